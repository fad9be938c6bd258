// DPDK mbuf and mempool (lib/mbuf/rte_mbuf.h, lib/mempool/rte_mempool.h): exported functions.
using System.Runtime.InteropServices;

namespace VSwitch.Dataplane.Interop;

internal static unsafe partial class Interop
{
    [LibraryImport(MbufLibrary, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr rte_pktmbuf_pool_create(string name, uint n, uint cacheSize, ushort privSize, ushort dataRoomSize, int socketId);

    [LibraryImport(MbufLibrary)]
    [SuppressGCTransition]
    internal static partial void rte_pktmbuf_free_bulk(IntPtr* mbufs, uint count);

    [LibraryImport(MempoolLibrary)]
    internal static partial uint rte_mempool_avail_count(IntPtr mempool);

    [LibraryImport(MempoolLibrary)]
    internal static partial uint rte_mempool_in_use_count(IntPtr mempool);
}
