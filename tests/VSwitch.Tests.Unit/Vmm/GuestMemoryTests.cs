// GuestMemory over a real memfd and mmap, without KVM: the guest-physical -> host translation is
// the VMM's first line against hostile guests, so its every edge is pinned here.
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Interop;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm;

public sealed class GuestMemoryTests : IDisposable
{
    private const ulong Page = GuestMemory.PageSize;

    // Two regions with a hole, like RAM below and above a PCI hole:
    //   [0x0000, 0x4000)  [0x10000, 0x12000); adjacent third region [0x12000, 0x13000).
    private readonly GuestMemory _memory = GuestMemory.Create([(0x10000UL, 2 * Page), (0UL, 4 * Page), (0x12000UL, Page)]);

    public void Dispose() => _memory.Dispose();

    [Fact]
    public void Regions_are_sorted_and_laid_out_in_the_memfd_in_the_given_order()
    {
        Assert.Equal(
            [new GuestMemoryRegion(0, 4 * Page, 2 * Page), new GuestMemoryRegion(0x10000, 2 * Page, 0),
             new GuestMemoryRegion(0x12000, Page, 6 * Page)],
            _memory.Regions.ToArray());
        Assert.Equal(7 * Page, _memory.Size);
    }

    [Fact]
    public void Fresh_memory_is_zero()
    {
        Assert.True(_memory.TryGetSpan(0, (int)(4 * Page), out Span<byte> span));
        Assert.True(span.IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Writes_read_back_at_the_same_guest_address()
    {
        _memory.Write(0x10ffe, [1, 2, 3, 4]);
        byte[] back = new byte[4];
        _memory.Read(0x10ffe, back);
        Assert.Equal([1, 2, 3, 4], back);
        Assert.Equal(3, _memory.GetSpan(0x11000, 1)[0]);
    }

    [Fact]
    public void Regions_do_not_alias_each_other()
    {
        _memory.GetSpan(0, 1)[0] = 0xAA;
        _memory.GetSpan(0x10000, 1)[0] = 0xBB;
        _memory.GetSpan(0x12000, 1)[0] = 0xCC;
        Assert.Equal(0xAA, _memory.GetSpan(0, 1)[0]);
        Assert.Equal(0xBB, _memory.GetSpan(0x10000, 1)[0]);
        Assert.Equal(0xCC, _memory.GetSpan(0x12000, 1)[0]);
    }

    [Theory]
    [InlineData(0x0000UL, 1)]            // first byte
    [InlineData(0x3fffUL, 1)]            // last byte of the first region
    [InlineData(0x0000UL, 0x4000)]       // the whole region
    [InlineData(0x3000UL, 0)]            // empty, inside
    [InlineData(0x11fffUL, 1)]           // last byte of the second region
    [InlineData(0x12000UL, 0x1000)]      // the whole third region
    public void Ranges_inside_one_region_translate(ulong address, int length)
    {
        Assert.True(_memory.TryGetSpan(address, length, out Span<byte> span));
        Assert.Equal(length, span.Length);
    }

    [Theory]
    [InlineData(0x4000UL, 1)]                   // just past the first region: the hole
    [InlineData(0x3fffUL, 2)]                   // straddles the end of the first region
    [InlineData(0x0000UL, 0x4001)]              // one byte longer than the region
    [InlineData(0x8000UL, 4)]                   // in the hole
    [InlineData(0xffffUL, 2)]                   // starts in the hole, ends in the second region
    [InlineData(0x11fffUL, 2)]                  // crosses into the adjacent third region: separate slots
    [InlineData(0x13000UL, 0)]                  // empty, but just past all RAM
    [InlineData(0x13000UL, 1)]                  // past all RAM
    [InlineData(0x0000UL, -1)]                  // negative length
    [InlineData(0x0000UL, int.MinValue)]
    [InlineData(0x0000UL, int.MaxValue)]        // longer than all of RAM
    [InlineData(ulong.MaxValue, 1)]             // top of the address space
    [InlineData(ulong.MaxValue - 0xfffUL, 0x2000)] // address + length wraps around
    [InlineData(0x10000UL + 0x1000UL, int.MaxValue)] // huge length from inside a region: no overflow
    public void Ranges_not_inside_one_region_are_refused(ulong address, int length)
    {
        Assert.False(_memory.TryGetSpan(address, length, out Span<byte> span));
        Assert.True(span.IsEmpty);
        GuestMemoryException e = Assert.Throws<GuestMemoryException>(() => _memory.GetSpan(address, length).Length);
        Assert.Equal(address, e.GuestAddress);
        Assert.Contains("[0x0, 0x4000), [0x10000, 0x12000), [0x12000, 0x13000)", e.Message);
    }

    [Fact]
    public void Write_and_read_refuse_ranges_outside_ram()
    {
        Assert.Throws<GuestMemoryException>(() => _memory.Write(0x3ffe, [1, 2, 3]));
        Assert.Throws<GuestMemoryException>(() => _memory.Read(0x13000, new byte[1]));
        // A refused write changes nothing.
        Assert.Equal(0, _memory.GetSpan(0x3ffe, 2)[0]);
    }

    [Fact]
    public void The_ram_is_the_memfd_so_another_mapping_of_it_sees_the_same_bytes()
    {
        // What vhost-user relies on later: vswitchd maps the same memfd and sees guest writes.
        _memory.Write(0x12000, [0xDE, 0xAD]);
        using MemoryMapping second = MemoryMapping.MapShared(_memory.FileDescriptor, _memory.Size, out int errno)
            ?? throw new InvalidOperationException($"mmap errno {errno}");
        Assert.Equal([0xDE, 0xAD], second.GetSpan(6 * Page, 2).ToArray()); // third region's file offset
        second.GetSpan(2 * Page, 1)[0] = 0x42;                              // first region's file offset
        Assert.Equal(0x42, _memory.GetSpan(0, 1)[0]);
    }

    [Fact]
    public void Disposed_memory_hands_out_no_spans()
    {
        GuestMemory memory = GuestMemory.Create(Page);
        memory.Dispose();
        Assert.Throws<ObjectDisposedException>(() => memory.GetSpan(0, 1).Length);
    }

    public static TheoryData<(ulong, ulong)[], string> BadLayouts => new()
    {
        { [], "at least one region" },
        { [(0UL, 0UL)], "non-empty" },
        { [(0x800UL, Page)], "aligned" },
        { [(0UL, Page + 1)], "aligned" },
        { [(0UL, 2 * Page), (Page, Page)], "overlap" },
        { [(0x10000UL, Page), (0x10000UL, Page)], "overlap" },
        { [(ulong.MaxValue - Page + 1, 2 * Page)], "past the end" },
    };

    [Theory]
    [MemberData(nameof(BadLayouts))]
    public void Bad_layouts_are_refused_with_the_reason((ulong, ulong)[] ranges, string reason)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => GuestMemory.Create(ranges).Dispose());
        Assert.Contains(reason, e.Message);
    }
}
