// The guest memory map for sizes below, at and above the 32-bit MMIO hole.
using VSwitch.Vmm.Boot;
using VSwitch.Vmm.Layout;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Boot;

public sealed class E820MapTests
{
    private const ulong MiB = 1UL << 20, GiB = 1UL << 30;

    [Fact]
    public void Small_memory_is_low_ram_around_the_legacy_area()
    {
        E820Map map = E820Map.ForMemorySize(256 * MiB);
        Assert.Equal(
            [new E820Entry(0, 0x9fc00, E820Type.Ram), new E820Entry(0x9fc00, 0x100000 - 0x9fc00, E820Type.Reserved),
             new E820Entry(0x100000, 256 * MiB - 0x100000, E820Type.Ram)],
            map.Entries);
        Assert.Equal([(0UL, 256 * MiB)], map.RamRegions.ToArray());
        Assert.Equal(256 * MiB, map.LowRamEnd);
    }

    [Theory]
    [InlineData(3UL << 30, 0UL)]
    [InlineData(4UL << 30, 1UL << 30)]
    [InlineData(16UL << 30, 13UL << 30)]
    public void Memory_beyond_the_hole_continues_at_4_gib(ulong size, ulong above)
    {
        E820Map map = E820Map.ForMemorySize(size);
        Assert.Equal(MemoryLayout.MmioHoleStart, map.LowRamEnd);
        ulong ram = map.Entries.Where(e => e.Type == E820Type.Ram).Aggregate(0UL, (sum, e) => sum + e.Size);
        Assert.Equal(size - (MemoryLayout.HighMemory - MemoryLayout.Ebda), ram); // the legacy area is backed but reserved
        Assert.Equal(size, map.RamRegions.ToArray().Aggregate(0UL, (sum, r) => sum + r.Size));
        Assert.DoesNotContain(map.Entries, e => e.Address < MemoryLayout.FourGiB && e.End > MemoryLayout.MmioHoleStart);
        if (above == 0)
        {
            Assert.Equal(1, map.RamRegions.Length);
        }
        else
        {
            Assert.Equal((MemoryLayout.FourGiB, above), map.RamRegions[1]);
            Assert.Equal(new E820Entry(MemoryLayout.FourGiB, above, E820Type.Ram), map.Entries[^1]);
        }
    }

    [Fact]
    public void Entries_are_sorted_and_disjoint()
    {
        E820Map map = E820Map.ForMemorySize(5 * GiB);
        for (int i = 1; i < map.Entries.Count; i++)
            Assert.True(map.Entries[i].Address >= map.Entries[i - 1].End);
    }

    [Theory]
    [InlineData(32UL << 20)]
    [InlineData((64UL << 20) + 4096)]
    public void Sizes_too_small_or_unaligned_are_refused(ulong size) =>
        Assert.StartsWith("memory size: ", Assert.Throws<LinuxBootException>(() => E820Map.ForMemorySize(size)).Message);
}
