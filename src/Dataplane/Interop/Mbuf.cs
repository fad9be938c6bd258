// Reads and writes struct rte_mbuf fields (lib/mbuf/rte_mbuf_core.h) from C#, at the offsets the
// shim reports. Static readonly fields become constants once the JIT has run the class
// constructor, so these accessors compile to single loads in the worker loop.
using System.Runtime.CompilerServices;

namespace VSwitch.Dataplane.Interop;

internal static unsafe class Mbuf
{
    private static readonly NativeLayout s_layout = LoadLayout();
    private static readonly int s_bufAddr = (int)s_layout.MbufBufAddr;
    private static readonly int s_dataOff = (int)s_layout.MbufDataOff;
    private static readonly int s_dataLen = (int)s_layout.MbufDataLen;
    private static readonly int s_pktLen = (int)s_layout.MbufPktLen;
    private static readonly int s_nbSegs = (int)s_layout.MbufNbSegs;

    internal static NativeLayout Layout => s_layout;

    private static NativeLayout LoadLayout()
    {
        Interop.InstallResolver();
        NativeLayout layout;
        Interop.vsw_layout(&layout);
        if (layout.Version != NativeLayout.ExpectedVersion)
            throw new InvalidOperationException(
                $"libvswshim.so reports layout version {layout.Version}, vswitchd expects {NativeLayout.ExpectedVersion}: rebuild native/dpdk-shim");
        return layout;
    }

    /// <summary>Start of the frame: buf_addr + data_off.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static byte* Data(IntPtr m) => *(byte**)((byte*)m + s_bufAddr) + *(ushort*)((byte*)m + s_dataOff);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int DataLen(IntPtr m) => *(ushort*)((byte*)m + s_dataLen);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int PktLen(IntPtr m) => (int)*(uint*)((byte*)m + s_pktLen);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int SegmentCount(IntPtr m) => *(ushort*)((byte*)m + s_nbSegs);

    /// <summary>The frame as a span; valid until the mbuf is freed or transmitted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Span<byte> Frame(IntPtr m) => new(Data(m), DataLen(m));
}
