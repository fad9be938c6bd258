// Where virtio-mmio device n sits: its window in the MMIO hole and its interrupt. The ISA IRQs
// (GSIs 0-15) belong to the legacy devices, so virtio devices take the IOAPIC's pins 16-23, which
// IsaInterruptRouting already routes to the IOAPIC; the DSDT (Acpi/Dsdt.cs) tells the guest both.
using VSwitch.Vmm.Acpi;
using VSwitch.Vmm.Devices.Virtio.Mmio;
using VSwitch.Vmm.Layout;

namespace VSwitch.Vmm.Machine;

internal static class VirtioSlots
{
    public const uint FirstGsi = 16;

    public static ulong Address(int slot) => MemoryLayout.DeviceMmio + (ulong)slot * VirtioMmioTransport.WindowSize;

    public static uint Gsi(int slot) => FirstGsi + (uint)slot;

    public static VirtioMmioAcpiDevice AcpiDevice(int slot) => new(Address(slot), VirtioMmioTransport.WindowSize, Gsi(slot));
}
