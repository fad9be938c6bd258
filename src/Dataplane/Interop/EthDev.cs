// The ethdev calls vswitchd makes, behind safe signatures: the structs DPDK fills or reads by
// pointer (rte_eth_dev_info, rte_eth_conf, rte_eth_stats: lib/ethdev/rte_ethdev.h) live on this
// side as zeroed stack buffers of the size the shim reports, read at the offsets it reports
// (NativeLayout), so nothing above Interop/ handles a pointer. Nothing here runs per packet.
using static VSwitch.Dataplane.Interop.Interop;

namespace VSwitch.Dataplane.Interop;

/// <summary>rte_eth_stats fields vswitchd reports.</summary>
public readonly record struct EthStats(ulong Ipackets, ulong Opackets, ulong Imissed, ulong Ierrors, ulong Oerrors, ulong RxNoMbuf, ulong Ibytes = 0, ulong Obytes = 0);

internal static unsafe class EthDev
{
    /// <summary>rte_eth_dev_get_port_by_name: false when DPDK has no device of that name.</summary>
    public static bool TryGetPortByName(string deviceName, out ushort portId)
    {
        ushort id;
        int rc = rte_eth_dev_get_port_by_name(deviceName, &id);
        portId = id;
        return rc == 0;
    }

    /// <summary>rte_eth_dev_info_get: the device's queue limits; a negative errno on failure.</summary>
    public static int QueueLimits(ushort portId, out int maxRxQueues, out int maxTxQueues)
    {
        NativeLayout layout = Mbuf.Layout;
        // SAFETY: a zeroed buffer of sizeof(struct rte_eth_dev_info) as the shim reports it; the
        // two reads are at offsets inside it that the shim reports for this build of DPDK.
        byte* info = stackalloc byte[(int)layout.EthDevInfoSize];
        new Span<byte>(info, (int)layout.EthDevInfoSize).Clear();
        int rc = rte_eth_dev_info_get(portId, info);
        maxRxQueues = rc == 0 ? *(ushort*)(info + layout.DevInfoMaxRxQueues) : 0;
        maxTxQueues = rc == 0 ? *(ushort*)(info + layout.DevInfoMaxTxQueues) : 0;
        return rc;
    }

    /// <summary>rte_eth_dev_configure with a zeroed rte_eth_conf: DPDK's defaults, no offloads.</summary>
    public static int Configure(ushort portId, ushort rxQueues, ushort txQueues)
    {
        NativeLayout layout = Mbuf.Layout;
        // SAFETY: a zeroed buffer of sizeof(struct rte_eth_conf) as the shim reports it, read by DPDK during the call only.
        byte* conf = stackalloc byte[(int)layout.EthConfSize];
        new Span<byte>(conf, (int)layout.EthConfSize).Clear();
        return rte_eth_dev_configure(portId, rxQueues, txQueues, conf);
    }

    /// <summary>rte_eth_rx_queue_setup with the driver's default rx_conf, filled from <paramref name="mempool"/>.</summary>
    public static int RxQueueSetup(ushort portId, ushort queue, ushort descriptors, uint socket, IntPtr mempool) =>
        rte_eth_rx_queue_setup(portId, queue, descriptors, socket, null, mempool);

    /// <summary>rte_eth_tx_queue_setup with the driver's default tx_conf.</summary>
    public static int TxQueueSetup(ushort portId, ushort queue, ushort descriptors, uint socket) =>
        rte_eth_tx_queue_setup(portId, queue, descriptors, socket, null);

    /// <summary>The port's own MAC address (rte_eth_macaddr_get) as 48 bits; 0 when the driver cannot say.</summary>
    public static ulong MacAddress(ushort portId)
    {
        // SAFETY: struct rte_ether_addr is 6 bytes; DPDK writes exactly those.
        byte* mac = stackalloc byte[6];
        return rte_eth_macaddr_get(portId, mac) == 0 ? Protocols.MacAddress.Read(new ReadOnlySpan<byte>(mac, 6)) : 0;
    }

    /// <summary>rte_eth_stats_get; all zero when the driver fails.</summary>
    public static EthStats Stats(ushort portId)
    {
        NativeLayout layout = Mbuf.Layout;
        // SAFETY: a zeroed buffer of sizeof(struct rte_eth_stats) as the shim reports it; each read is
        // a 64-bit counter at an offset inside it that the shim reports.
        byte* stats = stackalloc byte[(int)layout.EthStatsSize];
        new Span<byte>(stats, (int)layout.EthStatsSize).Clear();
        if (rte_eth_stats_get(portId, stats) != 0)
            return default;
        return new EthStats(
            *(ulong*)(stats + layout.EthStatsIpackets),
            *(ulong*)(stats + layout.EthStatsOpackets),
            *(ulong*)(stats + layout.EthStatsImissed),
            *(ulong*)(stats + layout.EthStatsIerrors),
            *(ulong*)(stats + layout.EthStatsOerrors),
            *(ulong*)(stats + layout.EthStatsRxNombuf),
            // SAFETY: as above: 64-bit counters at offsets inside the buffer, as the shim reports them.
            *(ulong*)(stats + layout.EthStatsIbytes),
            *(ulong*)(stats + layout.EthStatsObytes));
    }

    /// <summary>
    /// Receives and frees everything the port's rx queues hold, then zeroes its counters: the
    /// port starts empty. Returns how many frames were discarded. Control side only, before any
    /// worker polls the port.
    /// </summary>
    public static int DiscardReceived(ushort portId, int rxQueues)
    {
        const int Burst = 32;
        // SAFETY: DPDK writes at most Burst mbuf pointers into the array and each is freed once.
        IntPtr* mbufs = stackalloc IntPtr[Burst];
        int discarded = 0;
        for (ushort q = 0; q < rxQueues; q++)
        {
            ushort n;
            while ((n = vsw_rx_burst(portId, q, mbufs, Burst)) > 0)
            {
                rte_pktmbuf_free_bulk(mbufs, n);
                discarded += n;
            }
        }
        _ = rte_eth_stats_reset(portId);
        return discarded;
    }
}
