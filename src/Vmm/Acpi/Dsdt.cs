// Differentiated System Description Table (ACPI 6.4 section 5.2.11.1), revision 2 (64-bit AML
// integers). What it describes:
//  - \_S5 (section 7.4.2.5 "\_S5 (S5 System State)"): SLP_TYP for soft-off, without which Linux
//    has no ACPI power-off;
//  - COM1 (PNP0501 at 0x3F8, IRQ 4), so the serial port is enumerated rather than probed;
//  - virtio-mmio devices ("LNRO0005", the ID Linux's virtio_mmio driver matches on ACPI), each
//    with its MMIO window and edge-triggered GSI. The list comes from AcpiConfig; adding a device
//    type means adding its Device() here.
using VSwitch.Vmm.Layout;

namespace VSwitch.Vmm.Acpi;

internal static class Dsdt
{
    public const byte Revision = 2;
    public const string VirtioMmioHid = "LNRO0005";

    /// <summary>IOAPIC pins of KVM's in-kernel IOAPIC (KVM_IOAPIC_NUM_PINS).</summary>
    public const uint IoApicPins = 24;

    public static byte[] Build(IReadOnlyList<VirtioMmioAcpiDevice> virtioMmioDevices)
    {
        var devices = new List<byte[]>
        {
            Aml.Device("COM1",
                Aml.Name("_HID", Aml.EisaId("PNP0501")),
                Aml.Name("_UID", Aml.Integer(0)),
                Aml.Name("_CRS", Aml.ResourceTemplate(Aml.Io(0x3f8, 0x3f8, 0, 8), Aml.IrqNoFlags(4)))),
        };
        for (int i = 0; i < virtioMmioDevices.Count; i++)
            devices.Add(VirtioMmio(i, virtioMmioDevices[i]));
        byte[] aml =
        [
            .. Aml.Name("_S5", Aml.Package(Aml.Integer(AcpiPorts.SleepTypeS5), Aml.Integer(AcpiPorts.SleepTypeS5), Aml.Integer(0), Aml.Integer(0))),
            .. Aml.Scope("\\_SB", [.. devices]),
        ];
        return SystemDescriptionTable.Create("DSDT", Revision, aml);
    }

    private static byte[] VirtioMmio(int index, VirtioMmioAcpiDevice device)
    {
        string field = $"virtio-mmio device {index}";
        if (device.Size == 0 || device.Address < MemoryLayout.DeviceMmio || device.Address > MemoryLayout.IoApic - device.Size)
            throw new ArgumentException(
                $"{field}: window 0x{device.Address:x} + 0x{device.Size:x} must be non-empty and inside [0x{MemoryLayout.DeviceMmio:x}, 0x{MemoryLayout.IoApic:x})");
        if (device.Gsi >= IoApicPins)
            throw new ArgumentException($"{field}: gsi {device.Gsi} is not an IOAPIC pin (0-{IoApicPins - 1})");
        if (index > 0xfff)
            throw new ArgumentException($"{field}: at most 4096 virtio-mmio devices");
        return Aml.Device($"V{index:X3}",
            Aml.Name("_HID", Aml.String(VirtioMmioHid)),
            Aml.Name("_UID", Aml.Integer((ulong)index)),
            Aml.Name("_CCA", Aml.Integer(1)), // cache-coherent DMA
            Aml.Name("_CRS", Aml.ResourceTemplate(
                Aml.Memory32Fixed(true, (uint)device.Address, device.Size),
                Aml.Interrupt(edge: true, activeLow: false, shared: false, device.Gsi))));
    }
}
