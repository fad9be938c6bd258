// The guest's physical memory map, as the BIOS E820 call would report it (ACPI 6.4 section 15,
// "System Address Map Interfaces"; struct boot_e820_entry in arch/x86/include/uapi/asm/
// bootparam.h). The same map decides the KVM memory slots, so what the guest is told is RAM is
// exactly what is backed:
//   [0, EBDA)                 RAM          (the kernel's real-mode trampoline for the APs lives here)
//   [EBDA, 1 MiB)             reserved     (EBDA, VGA hole, BIOS area with the ACPI tables)
//   [1 MiB, min(size, 3 GiB)) RAM
//   [3 GiB, 4 GiB)            not listed   (MMIO hole: virtio-mmio windows, IOAPIC, local APICs)
//   [4 GiB, ...)              RAM          (whatever did not fit below the hole)
// The hole is left out rather than marked reserved: Linux treats gaps in the map as the space
// where device MMIO can live, and marks nothing busy there.
using VSwitch.Vmm.Layout;

namespace VSwitch.Vmm.Boot;

/// <summary>Address range types (ACPI 6.4 table 15.4).</summary>
public enum E820Type : uint
{
    Ram = 1,
    Reserved = 2,
    Acpi = 3,
    Nvs = 4,
    Unusable = 5,
}

/// <summary>One range of the map; 20 bytes in the zero page (u64 addr, u64 size, u32 type).</summary>
public readonly record struct E820Entry(ulong Address, ulong Size, E820Type Type)
{
    public ulong End => Address + Size;
}

public sealed class E820Map
{
    /// <summary>E820_MAX_ENTRIES_ZEROPAGE: room in boot_params.e820_table.</summary>
    public const int MaxEntries = 128;

    /// <summary>Enough for the kernel, its decompression buffer and a small initramfs.</summary>
    public const ulong MinimumMemorySize = 64UL << 20;

    /// <summary>Size alignment: 2 MiB, so the page tables and KVM slots need no partial pages.</summary>
    public const ulong MemoryAlignment = 2UL << 20;

    private readonly E820Entry[] _entries;
    private readonly (ulong GuestAddress, ulong Size)[] _ram;

    private E820Map(ulong memorySize, E820Entry[] entries, (ulong, ulong)[] ram)
    {
        MemorySize = memorySize;
        _entries = entries;
        _ram = ram;
    }

    /// <summary>The map for <paramref name="memorySize"/> bytes of guest RAM.</summary>
    public static E820Map ForMemorySize(ulong memorySize)
    {
        if (memorySize < MinimumMemorySize || memorySize % MemoryAlignment != 0)
            throw new LinuxBootException(
                $"memory size: {memorySize} bytes must be at least {MinimumMemorySize >> 20} MiB and a multiple of {MemoryAlignment >> 20} MiB");
        if (memorySize > ulong.MaxValue - MemoryLayout.FourGiB)
            throw new LinuxBootException($"memory size: {memorySize} bytes is beyond the 64-bit address space");

        ulong below = Math.Min(memorySize, MemoryLayout.MmioHoleStart);
        ulong above = memorySize - below;
        var entries = new List<E820Entry>
        {
            new(0, MemoryLayout.Ebda, E820Type.Ram),
            new(MemoryLayout.Ebda, MemoryLayout.HighMemory - MemoryLayout.Ebda, E820Type.Reserved),
            new(MemoryLayout.HighMemory, below - MemoryLayout.HighMemory, E820Type.Ram),
        };
        var ram = new List<(ulong, ulong)> { (0UL, below) };
        if (above > 0)
        {
            entries.Add(new E820Entry(MemoryLayout.FourGiB, above, E820Type.Ram));
            ram.Add((MemoryLayout.FourGiB, above));
        }
        return new E820Map(memorySize, [.. entries], [.. ram]);
    }

    /// <summary>Bytes of RAM the map describes (backed by the KVM slots).</summary>
    public ulong MemorySize { get; }

    /// <summary>The map's ranges, sorted by address.</summary>
    public IReadOnlyList<E820Entry> Entries => _entries;

    /// <summary>
    /// The guest-physical ranges to back with RAM and register as KVM memory slots, sorted
    /// (pass to <c>GuestMemory.Create</c>). The first one starts at 0 and also backs the reserved
    /// legacy area, which holds the ACPI tables.
    /// </summary>
    public ReadOnlySpan<(ulong GuestAddress, ulong Size)> RamRegions => _ram;

    /// <summary>End of RAM below the MMIO hole: the boot structures, kernel and initramfs go below it.</summary>
    public ulong LowRamEnd => _ram[0].Size;
}
