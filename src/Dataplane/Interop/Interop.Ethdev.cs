// DPDK ethdev (lib/ethdev/rte_ethdev.h, rte_dev.h): exported configuration functions. The
// structs passed by pointer (rte_eth_conf, rte_eth_dev_info, rte_eth_stats) are handled as raw
// buffers of the size the shim reports (see MbufLayout), read at the offsets it reports.
using System.Runtime.InteropServices;

namespace VSwitch.Dataplane.Interop;

internal static unsafe partial class Interop
{
    [LibraryImport(EthdevLibrary)]
    internal static partial ushort rte_eth_dev_count_avail();

    [LibraryImport(EthdevLibrary, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rte_eth_dev_get_port_by_name(string name, ushort* portId);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_dev_get_name_by_port(ushort portId, byte* name);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_dev_configure(ushort portId, ushort nbRxQueue, ushort nbTxQueue, void* ethConf);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_dev_info_get(ushort portId, void* devInfo);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_rx_queue_setup(ushort portId, ushort queueId, ushort nbDesc, uint socketId, void* rxConf, IntPtr mempool);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_tx_queue_setup(ushort portId, ushort queueId, ushort nbDesc, uint socketId, void* txConf);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_dev_start(ushort portId);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_dev_stop(ushort portId);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_dev_close(ushort portId);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_dev_set_mtu(ushort portId, ushort mtu);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_promiscuous_enable(ushort portId);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_stats_get(ushort portId, void* stats);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_stats_reset(ushort portId);

    [LibraryImport(EthdevLibrary)]
    internal static partial int rte_eth_macaddr_get(ushort portId, byte* macAddr);

    // rte_dev.h: hot-plug a virtual device at run time (the control socket's add-port).
    [LibraryImport(EalLibrary, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rte_dev_probe(string devargs);

    [LibraryImport(EalLibrary, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rte_eal_hotplug_remove(string busName, string devName);
}
