// The ACPI tables of a VM (ACPI 6.4 section 5.2 "ACPI System Description Tables"), built as one
// blob that is copied to guest memory at a fixed address: RSDP first (section 5.2.5.1: the OS
// finds it on a 16-byte boundary in 0xE0000-0xFFFFF), then XSDT, FADT, FACS, MADT and DSDT.
// Pointers in the tables are absolute guest-physical addresses, so the blob is built for its
// address.
using VSwitch.Vmm.Layout;

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
    public static AcpiTables Build(AcpiConfig config, ulong address = MemoryLayout.AcpiTables)
    {
        if (config.VcpuCount is < 1 or > MaxVcpus)
            throw new ArgumentException($"vcpu count: {config.VcpuCount} is outside [1, {MaxVcpus}]", nameof(config));
        if (address % TableAlignment != 0 || address > uint.MaxValue)
            throw new ArgumentException($"ACPI tables address 0x{address:x} must be {TableAlignment}-byte aligned and below 4 GiB", nameof(address));

        // Each table after the ones it points to, so their addresses are known; the RSDP goes
        // first (its place is fixed), its content last.
        var layout = new Layout(address);
        layout.Reserve("RSDP", Rsdp.Length);
        ulong facs = layout.Add("FACS", Facs.Build(), Facs.Alignment);
        ulong dsdt = layout.Add("DSDT", Dsdt.Build(config.VirtioMmioDevices));
        ulong madt = layout.Add("APIC", Madt.Build(config.VcpuCount));
        ulong fadt = layout.Add("FACP", Fadt.Build(facs, dsdt));
        ulong xsdt = layout.Add("XSDT", Xsdt.Build([fadt, madt]));
        layout.Fill("RSDP", Rsdp.Build(xsdt));
        return new AcpiTables(address, layout.Image(), [.. layout.Tables]);
    }

    /// <summary>Alignment of each table in the blob (the RSDP needs 16, section 5.2.5.1).</summary>
    public const int TableAlignment = 16;

    private sealed class Layout(ulong address)
    {
        private readonly List<byte> _image = [];
        public readonly List<AcpiTableLocation> Tables = [];

        public void Reserve(string signature, int length)
        {
            Tables.Add(new AcpiTableLocation(signature, _image.Count, length));
            _image.AddRange(new byte[length]);
        }

        public ulong Add(string signature, byte[] table, int alignment = TableAlignment)
        {
            while (_image.Count % alignment != 0)
                _image.Add(0);
            Tables.Add(new AcpiTableLocation(signature, _image.Count, table.Length));
            ulong tableAddress = address + (ulong)_image.Count;
            _image.AddRange(table);
            return tableAddress;
        }

        public void Fill(string signature, byte[] table)
        {
            AcpiTableLocation location = Tables.Single(t => t.Signature == signature);
            for (int i = 0; i < table.Length; i++)
                _image[location.Offset + i] = table[i];
        }

        public byte[] Image() => [.. _image];
    }

    /// <summary>Guest-physical address of the blob and of the RSDP.</summary>
    public ulong Address { get; }

    /// <summary>The bytes to copy to <see cref="Address"/>.</summary>
    public byte[] Image { get; }

    /// <summary>Where each table is in <see cref="Image"/> (RSDP, XSDT, FACP, FACS, APIC, DSDT).</summary>
    public IReadOnlyList<AcpiTableLocation> Tables { get; }
}
