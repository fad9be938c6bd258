// native/dpdk-shim: DPDK's inline fast-path functions under exported names. These are short and
// never block, which is what SuppressGCTransition requires; they are called once per burst.
using System.Runtime.InteropServices;

namespace VSwitch.Dataplane.Interop;

internal static unsafe partial class Interop
{
    [LibraryImport(ShimLibrary)]
    internal static partial uint vsw_layout_size();

    [LibraryImport(ShimLibrary)]
    internal static partial void vsw_layout(NativeLayout* layout);

    [LibraryImport(ShimLibrary)]
    [SuppressGCTransition]
    internal static partial ushort vsw_rx_burst(ushort port, ushort queue, IntPtr* pkts, ushort n);

    [LibraryImport(ShimLibrary)]
    [SuppressGCTransition]
    internal static partial ushort vsw_tx_burst(ushort port, ushort queue, IntPtr* pkts, ushort n);

    [LibraryImport(ShimLibrary)]
    [SuppressGCTransition]
    internal static partial int vsw_pktmbuf_alloc_bulk(IntPtr pool, IntPtr* pkts, uint n);

    [LibraryImport(ShimLibrary)]
    [SuppressGCTransition]
    internal static partial uint vsw_lcore_id();

    [LibraryImport(ShimLibrary)]
    [SuppressGCTransition]
    internal static partial void vsw_mbuf_refcnt_update(IntPtr mbuf, short delta);

    [LibraryImport(ShimLibrary)]
    [SuppressGCTransition]
    internal static partial ulong vsw_rdtsc();
}

/// <summary>struct vsw_layout of native/dpdk-shim/vsw_shim.c, field for field.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeLayout
{
    public const uint ExpectedVersion = 2;
    public uint Version;
    public uint MbufSize;
    public uint MbufBufAddr;
    public uint MbufDataOff;
    public uint MbufRefcnt;
    public uint MbufNbSegs;
    public uint MbufPort;
    public uint MbufOlFlags;
    public uint MbufPktLen;
    public uint MbufDataLen;
    public uint MbufHashRss;
    public uint MbufBufLen;
    public uint MbufNext;
    public uint PktmbufHeadroom;
    public uint EthConfSize;
    public uint EthDevInfoSize;
    public uint DevInfoMaxRxQueues;
    public uint DevInfoMaxTxQueues;
    public uint DevInfoMaxMtu;
    public uint EthStatsSize;
    public uint EthStatsIpackets;
    public uint EthStatsOpackets;
    public uint EthStatsImissed;
    public uint EthStatsIerrors;
    public uint EthStatsOerrors;
    public uint EthStatsRxNombuf;
    public uint MaxEthPorts;
    public uint EthStatsIbytes;
    public uint EthStatsObytes;
}
