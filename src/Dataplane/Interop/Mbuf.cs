// Reads and writes struct rte_mbuf fields (lib/mbuf/rte_mbuf_core.h) from C#, at the offsets the
// shim reports. Static readonly fields become constants once the JIT has run the class
// constructor, so these accessors compile to single loads in the worker loop.
// SAFETY (every accessor below): m is an mbuf the calling worker received from DPDK (an rx burst
// or the pool) and has not yet handed back (tx or free), so no other thread touches it; each
// field is read at the offsetof() the shim reports for this DPDK build, whose layout version
// LoadLayout checks; lengths written stay within buf_len, which the callers check first.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace VSwitch.Dataplane.Interop;

internal static unsafe class Mbuf
{
    private static readonly NativeLayout s_layout = LoadLayout();
    private static readonly int s_bufAddr = (int)s_layout.MbufBufAddr;
    private static readonly int s_dataOff = (int)s_layout.MbufDataOff;
    private static readonly int s_dataLen = (int)s_layout.MbufDataLen;
    private static readonly int s_pktLen = (int)s_layout.MbufPktLen;
    private static readonly int s_nbSegs = (int)s_layout.MbufNbSegs;
    private static readonly int s_bufLen = (int)s_layout.MbufBufLen;

    internal static NativeLayout Layout => s_layout;

    private static NativeLayout LoadLayout()
    {
        Interop.InstallResolver();
        // Checked first: vsw_layout writes a whole C struct into the managed one.
        if (Interop.vsw_layout_size() != sizeof(NativeLayout))
            throw new InvalidOperationException(
                $"libvswshim.so's struct vsw_layout is {Interop.vsw_layout_size()} bytes, vswitchd's NativeLayout {sizeof(NativeLayout)}: rebuild native/dpdk-shim");
        NativeLayout layout;
        // SAFETY: layout is a local of the size the shim just reported it writes.
        Interop.vsw_layout(&layout);
        if (layout.Version != NativeLayout.ExpectedVersion)
            throw new InvalidOperationException(
                $"libvswshim.so reports layout version {layout.Version}, vswitchd expects {NativeLayout.ExpectedVersion}: rebuild native/dpdk-shim");
        return layout;
    }

    /// <summary>Start of the frame: buf_addr + data_off.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // SAFETY: see the file header: an mbuf the worker owns, fields at the shim's offsets.
    internal static byte* Data(IntPtr m) => *(byte**)((byte*)m + s_bufAddr) + *(ushort*)((byte*)m + s_dataOff);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // SAFETY: see the file header: an mbuf the worker owns, fields at the shim's offsets.
    internal static int DataLen(IntPtr m) => *(ushort*)((byte*)m + s_dataLen);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // SAFETY: see the file header: an mbuf the worker owns, fields at the shim's offsets.
    internal static int PktLen(IntPtr m) => (int)*(uint*)((byte*)m + s_pktLen);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // SAFETY: see the file header: an mbuf the worker owns, fields at the shim's offsets.
    internal static int SegmentCount(IntPtr m) => *(ushort*)((byte*)m + s_nbSegs);

    /// <summary>
    /// rte_pktmbuf_prepend for a single-segment mbuf: moves the start of the frame back by
    /// <paramref name="length"/> bytes into the headroom. Outer headers longer than the headroom
    /// DPDK leaves (RTE_PKTMBUF_HEADROOM, 128: GENEVE with more than 76 bytes of options) first
    /// move the frame further into its buffer. False, and nothing changed, when even the whole
    /// buffer cannot hold both.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // SAFETY: see the file header: an mbuf the worker owns, fields at the shim's offsets.
    internal static bool Prepend(IntPtr m, int length)
    {
        ushort* dataOff = (ushort*)((byte*)m + s_dataOff);
        if (*dataOff < length && !MakeHeadroom(m, length))
            return false;
        *dataOff -= (ushort)length;
        *(ushort*)((byte*)m + s_dataLen) += (ushort)length;
        *(uint*)((byte*)m + s_pktLen) += (uint)length;
        return true;
    }

    /// <summary>Moves the frame to <paramref name="headroom"/> bytes from the start of its buffer, if the buffer can hold it there.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    // SAFETY: see the file header: an mbuf the worker owns, fields at the shim's offsets.
    private static bool MakeHeadroom(IntPtr m, int headroom)
    {
        int length = DataLen(m);
        if (headroom + length > *(ushort*)((byte*)m + s_bufLen))
            return false;
        byte* buffer = *(byte**)((byte*)m + s_bufAddr);
        ushort* dataOff = (ushort*)((byte*)m + s_dataOff);
        // SAFETY: both ranges lie within the buffer: headroom + length <= buf_len was checked above,
        // and data_off + length <= buf_len holds for any frame DPDK gave us. Span.CopyTo copies
        // overlapping ranges as memmove does.
        new Span<byte>(buffer + *dataOff, length).CopyTo(new Span<byte>(buffer + headroom, length));
        *dataOff = (ushort)headroom;
        return true;
    }

    /// <summary>
    /// rte_pktmbuf_adj followed by a trim, for a single-segment mbuf: the frame becomes the
    /// <paramref name="length"/> bytes at <paramref name="offset"/>. The caller has checked both
    /// against the current frame.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // SAFETY: see the file header: an mbuf the worker owns, fields at the shim's offsets.
    internal static void Narrow(IntPtr m, int offset, int length)
    {
        *(ushort*)((byte*)m + s_dataOff) += (ushort)offset;
        SetLength(m, length);
    }

    /// <summary>Sets data_len and pkt_len of a single-segment mbuf.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // SAFETY: see the file header: an mbuf the worker owns, fields at the shim's offsets.
    internal static void SetLength(IntPtr m, int length)
    {
        *(ushort*)((byte*)m + s_dataLen) = (ushort)length;
        *(uint*)((byte*)m + s_pktLen) = (uint)length;
    }

    /// <summary>Bytes from the start of the frame to the end of the buffer: the longest frame it can hold.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // SAFETY: see the file header: an mbuf the worker owns, fields at the shim's offsets.
    internal static int Room(IntPtr m) => *(ushort*)((byte*)m + s_bufLen) - *(ushort*)((byte*)m + s_dataOff);

    /// <summary>The first <paramref name="length"/> bytes from the start of the frame, whatever data_len says.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // SAFETY: see the file header: an mbuf the worker owns, fields at the shim's offsets.
    internal static Span<byte> Buffer(IntPtr m, int length) => new(Data(m), length);

    /// <summary>Asks for the first cache line of the frame, ahead of reading it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Prefetch(IntPtr m)
    {
        if (Sse.IsSupported)
            Sse.Prefetch0(Data(m));
    }

    /// <summary>The frame as a span; valid until the mbuf is freed or transmitted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Span<byte> Frame(IntPtr m) => new(Data(m), DataLen(m));
}
