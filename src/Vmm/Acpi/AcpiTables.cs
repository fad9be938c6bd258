// The ACPI tables of a VM (ACPI 6.4 section 5.2 "ACPI System Description Tables"), built as one
// blob that is copied to guest memory at a fixed address: RSDP first (section 5.2.5.1: the OS
// finds it on a 16-byte boundary in 0xE0000-0xFFFFF), then XSDT, FADT, FACS, MADT and DSDT.
// Pointers in the tables are absolute guest-physical addresses, so the blob is built for its
// address.
namespace VSwitch.Vmm.Acpi;

/// <summary>A virtio-mmio device to describe in the DSDT ("LNRO0005"): its MMIO window and GSI.</summary>
public readonly record struct VirtioMmioAcpiDevice(ulong Address, uint Size, uint Gsi);

/// <summary>What the ACPI tables describe.</summary>
/// <param name="VcpuCount">Local APICs in the MADT, APIC IDs 0..count-1.</param>
/// <param name="VirtioMmioDevices">Devices for the DSDT; empty for none.</param>
public sealed record AcpiConfig(int VcpuCount, IReadOnlyList<VirtioMmioAcpiDevice> VirtioMmioDevices)
{
    public AcpiConfig(int vcpuCount) : this(vcpuCount, []) { }
}

/// <summary>One table inside the blob.</summary>
public readonly record struct AcpiTableLocation(string Signature, int Offset, int Length);

/// <summary>The tables, laid out for <see cref="Address"/>.</summary>
public sealed class AcpiTables
{
    /// <summary>Most vCPUs the MADT can describe with xAPIC entries (8-bit APIC IDs, 0xff is broadcast).</summary>
    public const int MaxVcpus = 254;

    internal AcpiTables(ulong address, byte[] image, AcpiTableLocation[] tables)
    {
        Address = address;
        Image = image;
        Tables = tables;
    }

    /// <summary>Builds the tables for guest-physical <paramref name="address"/> (16-byte aligned; the RSDP is first).</summary>
    public static AcpiTables Build(AcpiConfig config, ulong address = Boot.MemoryLayout.AcpiTables) =>
        throw new NotImplementedException();

    /// <summary>Guest-physical address of the blob and of the RSDP.</summary>
    public ulong Address { get; }

    /// <summary>The bytes to copy to <see cref="Address"/>.</summary>
    public byte[] Image { get; }

    /// <summary>Where each table is in <see cref="Image"/> (RSDP, XSDT, FACP, FACS, APIC, DSDT).</summary>
    public IReadOnlyList<AcpiTableLocation> Tables { get; }
}
