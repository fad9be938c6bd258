// A guest's RAM: one memfd (so vswitchd can map the same pages over vhost-user later), mapped
// MAP_SHARED into this process, split into guest-physical regions that each become a KVM memory
// slot (Documentation/virt/kvm/api.rst, section "KVM_SET_USER_MEMORY_REGION": slots must not
// overlap, and guest_phys_addr, memory_size and userspace_addr must be page-aligned).
//
// Guests are hostile: every guest-physical address and length that reaches the VMM (descriptor
// tables, virtqueue rings, MMIO arguments) goes through TryGetSpan, the one place that turns a
// guest address into host memory. The guest can change the bytes behind a span at any time (it
// runs concurrently): copy what you validate before you use it.
using System.Diagnostics.CodeAnalysis;
using VSwitch.Vmm.Kvm.Interop;

namespace VSwitch.Vmm.Kvm;

/// <summary>A guest-physical range backed by the memfd from <see cref="FileOffset"/>.</summary>
public readonly record struct GuestMemoryRegion(ulong GuestAddress, ulong Size, ulong FileOffset)
{
    /// <summary>First guest-physical address past the region (no overflow: checked at creation).</summary>
    public ulong End => GuestAddress + Size;
}

public sealed class GuestMemory : IDisposable
{
    public const ulong PageSize = 4096;

    /// <summary>The x86-64 default huge page (2 MiB), what MFD_HUGETLB gives without a size flag.</summary>
    public const ulong HugePageSize = 2 << 20;

    private readonly FileDescriptorHandle _memfd;
    private readonly MemoryMapping _mapping;
    private readonly GuestMemoryRegion[] _regions; // sorted by GuestAddress, disjoint

    private GuestMemory(FileDescriptorHandle memfd, MemoryMapping mapping, GuestMemoryRegion[] regions)
    {
        _memfd = memfd;
        _mapping = mapping;
        _regions = regions;
    }

    /// <summary>One region of <paramref name="size"/> bytes at guest-physical 0.</summary>
    public static GuestMemory Create(ulong size) => Create([(0UL, size)]);

    /// <summary>
    /// RAM made of the given (guest address, size) ranges, zero-filled. Each must be page-aligned,
    /// non-empty and disjoint from the others; they are laid out one after the other in the memfd.
    /// With <paramref name="hugePages"/> the memfd takes 2 MiB pages from the hugetlbfs pool
    /// (vm.nr_hugepages), and each region must be a multiple of 2 MiB in size and placement.
    /// </summary>
    public static GuestMemory Create(ReadOnlySpan<(ulong GuestAddress, ulong Size)> ranges, bool hugePages = false)
    {
        ulong alignment = hugePages ? HugePageSize : PageSize;
        if (ranges.IsEmpty)
            throw new ArgumentException("guest memory needs at least one region", nameof(ranges));
        var regions = new GuestMemoryRegion[ranges.Length];
        ulong fileOffset = 0;
        for (int i = 0; i < ranges.Length; i++)
        {
            (ulong address, ulong size) = ranges[i];
            if (size == 0 || address % alignment != 0 || size % alignment != 0)
                throw new ArgumentException(
                    $"region {i} (0x{address:x}, {size} bytes) must be non-empty and aligned to {alignment} bytes", nameof(ranges));
            if (address > ulong.MaxValue - size)
                throw new ArgumentException($"region {i} (0x{address:x}, {size} bytes) runs past the end of the address space", nameof(ranges));
            if (fileOffset > long.MaxValue - size)
                throw new ArgumentException($"regions total more than {long.MaxValue} bytes", nameof(ranges));
            regions[i] = new GuestMemoryRegion(address, size, fileOffset);
            fileOffset += size;
        }
        Array.Sort(regions, static (a, b) => a.GuestAddress.CompareTo(b.GuestAddress));
        for (int i = 1; i < regions.Length; i++)
        {
            if (regions[i].GuestAddress < regions[i - 1].End)
                throw new ArgumentException(
                    $"regions at 0x{regions[i - 1].GuestAddress:x} and 0x{regions[i].GuestAddress:x} overlap", nameof(ranges));
        }

        FileDescriptorHandle? memfd = Interop.Interop.MemfdCreate("vswitch-guest-ram", fileOffset, out int errno, hugePages);
        if (memfd is null)
        {
            throw new KvmException($"memfd_create/ftruncate of {fileOffset} bytes of guest memory{(hugePages ? " (MFD_HUGETLB)" : "")} failed: " +
                $"{System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
        }
        MemoryMapping? mapping = MemoryMapping.MapShared(memfd, fileOffset, out errno);
        if (mapping is null)
        {
            memfd.Dispose();
            // With MFD_HUGETLB an empty pool shows here, as ENOMEM from mmap.
            throw new KvmException($"mmap of {fileOffset} bytes of guest memory{(hugePages ? " (hugepages: is vm.nr_hugepages large enough?)" : "")} " +
                $"failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
        }
        return new GuestMemory(memfd, mapping, regions);
    }

    /// <summary>The regions, sorted by guest address.</summary>
    public ReadOnlySpan<GuestMemoryRegion> Regions => _regions;

    /// <summary>Bytes of RAM over all regions (= the memfd's size).</summary>
    public ulong Size => _mapping.Length;

    /// <summary>
    /// The one guest-physical to host translation: the <paramref name="length"/> bytes at
    /// <paramref name="guestAddress"/>, if they lie entirely inside one region. Refuses negative
    /// lengths, unbacked addresses, ranges that run past a region's end (even into an adjacent
    /// region: they are separate KVM slots) and address overflow.
    /// </summary>
    public bool TryGetSpan(ulong guestAddress, int length, out Span<byte> span)
    {
        if (TryTranslate(guestAddress, length, out ulong fileOffset))
        {
            span = _mapping.GetSpan(fileOffset, length);
            return true;
        }
        span = default;
        return false;
    }

    // The translation itself: where in the memfd the range lies, if wholly inside one region.
    private bool TryTranslate(ulong guestAddress, int length, out ulong fileOffset)
    {
        if (length >= 0)
        {
            foreach (ref readonly GuestMemoryRegion region in _regions.AsSpan())
            {
                if (guestAddress < region.GuestAddress)
                    break; // sorted: no later region can hold it
                ulong offset = guestAddress - region.GuestAddress;
                if (offset < region.Size && (ulong)length <= region.Size - offset)
                {
                    fileOffset = region.FileOffset + offset;
                    return true;
                }
            }
        }
        fileOffset = 0;
        return false;
    }

    /// <summary><see cref="TryGetSpan"/>, throwing <see cref="GuestMemoryException"/> when it refuses.</summary>
    public Span<byte> GetSpan(ulong guestAddress, int length)
    {
        if (!TryGetSpan(guestAddress, length, out Span<byte> span))
            ThrowOutOfRange(guestAddress, length);
        return span;
    }

    /// <summary>Copies <paramref name="source"/> into guest memory at <paramref name="guestAddress"/>.</summary>
    public void Write(ulong guestAddress, ReadOnlySpan<byte> source) => source.CopyTo(GetSpan(guestAddress, source.Length));

    /// <summary>Copies guest memory at <paramref name="guestAddress"/> into <paramref name="destination"/>.</summary>
    public void Read(ulong guestAddress, Span<byte> destination) => GetSpan(guestAddress, destination.Length).CopyTo(destination);

    /// <summary>The host virtual address backing <paramref name="region"/>, for KVM_SET_USER_MEMORY_REGION.</summary>
    internal ulong HostAddress(in GuestMemoryRegion region) => _mapping.Address + region.FileOffset;

    /// <summary>
    /// This process's address of the <paramref name="length"/> bytes at <paramref name="guestAddress"/>,
    /// for a vhost-user backend that maps the memfd and translates through SET_MEM_TABLE; false
    /// where <see cref="TryGetSpan"/> would refuse.
    /// </summary>
    internal bool TryGetHostAddress(ulong guestAddress, int length, out ulong hostAddress)
    {
        bool inside = TryTranslate(guestAddress, length, out ulong fileOffset);
        hostAddress = inside ? _mapping.Address + fileOffset : 0;
        return inside;
    }

    /// <summary>The memfd, for sharing the RAM with another process.</summary>
    internal FileDescriptorHandle FileDescriptor => _memfd;

    [DoesNotReturn]
    private void ThrowOutOfRange(ulong guestAddress, int length) =>
        throw new GuestMemoryException(guestAddress, length, string.Join(", ",
            _regions.Select(r => $"[0x{r.GuestAddress:x}, 0x{r.End:x})")));

    public void Dispose()
    {
        _mapping.Dispose();
        _memfd.Dispose();
    }
}

/// <summary>A guest-physical range that guest memory does not back.</summary>
public sealed class GuestMemoryException(ulong guestAddress, int length, string validRanges)
    : Exception($"{length} bytes at guest-physical 0x{guestAddress:x} are not inside one RAM region (RAM: {validRanges})")
{
    public ulong GuestAddress { get; } = guestAddress;
    public int Length { get; } = length;
}
