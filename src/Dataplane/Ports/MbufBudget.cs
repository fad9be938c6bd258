// What the one packet pool (Eal.CreateMbufPool) must hold for the ports vswitchd runs, and what
// one mbuf can carry. Every frame lives in a single mbuf (workers drop chained ones as
// multi_segment), so a port's largest frame must fit one mbuf's data room; and every mbuf a driver
// keeps in its rings, or a worker holds mid-burst, or an lcore keeps in its cache, is not free for
// the next received frame. A pool smaller than their sum runs dry under load (rx_nombuf,
// mbuf_pool_exhausted) however well the rest is tuned, so the loader and add-port refuse it.
//
// Where the figures come from (DPDK 22.11):
//   - rte_pktmbuf_pool_create with RTE_MBUF_DEFAULT_BUF_SIZE: 2048 bytes of data room after the
//     128-byte RTE_PKTMBUF_HEADROOM (which takes the outer headers of an encapsulation).
//   - rx rings: a driver with hardware-style rings fills every rx descriptor with an mbuf when
//     the port starts; tx rings keep each sent mbuf until the driver reclaims the descriptor.
//     EthPort sets up `queues` rx rings and `queues x workers` tx rings of RingSize each.
//   - drivers that copy (net_pcap, net_null, net_af_packet, net_vhost) allocate an mbuf per
//     received frame and free each sent one at once: their rings hold none.
//   - rte_mempool caches: one per lcore that uses the pool (each worker, registered with
//     rte_thread_register, and the main lcore); a cache holds up to 1.5 x its size
//     (CALC_CACHE_FLUSHTHRESH in rte_mempool.c).
//   - per worker in flight: one rx burst, one staged burst of head-end replicas on the uplink,
//     and the replicas of one flooded frame (one per remote host).
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Spec;

namespace VSwitch.Dataplane.Ports;

public static class MbufBudget
{
    /// <summary>Bytes of frame one mbuf holds: RTE_MBUF_DEFAULT_DATAROOM.</summary>
    public const int DataRoom = 2048;
    /// <summary>RTE_PKTMBUF_HEADROOM, in front of the data room: where encapsulation prepends the outer headers.</summary>
    public const int Headroom = 128;
    /// <summary>The largest MTU whose frames (MTU + the Ethernet header) fit one mbuf.</summary>
    public const int MaxMtu = DataRoom - Ethernet.HeaderLength;
    /// <summary>Descriptors per rx and per tx ring: DPDK's common default, enough for bursts of 32 at line rate.</summary>
    public const int RingSize = 1024;
    /// <summary>Frames a worker takes from one rx queue, and stages for one tx queue, at a time (l2fwd's MAX_PKT_BURST).</summary>
    public const int BurstSize = 32;

    /// <summary>Device-name prefixes of the drivers that copy frames in and out, keeping no mbuf in their rings.</summary>
    private static readonly string[] s_copyingDrivers = ["net_pcap", "net_null", "net_af_packet", "net_vhost"];

    /// <summary>Per-lcore cache size: 256 is DPDK's usual choice; it must stay below n / 1.5.</summary>
    public static int CacheSize(int mbufs) => Math.Min(256, mbufs / 2);

    /// <summary>Mbufs a port's driver may keep in its rx and tx rings (none without a device name, which SpecValidator refuses).</summary>
    public static int RingMbufs(PortSpec port, int workers) =>
        port.DeviceName.Length == 0 || s_copyingDrivers.Any(d => port.DeviceName.StartsWith(d, StringComparison.Ordinal))
            ? 0
            : (port.Queues + port.Queues * workers) * RingSize;

    /// <summary>Mbufs the lcore caches and the workers' bursts may hold, whatever the ports.</summary>
    public static int Overhead(int mbufs, int workers) =>
        (workers + 1) * (CacheSize(mbufs) * 3 / 2) + workers * (2 * BurstSize + OverlaySpec.MaxRemoteHosts);

    /// <summary>Mbufs the pool needs for <paramref name="ports"/>: their rings, the caches and the bursts in flight.</summary>
    public static int Required(IEnumerable<PortSpec> ports, int mbufs, int workers) =>
        ports.Sum(p => RingMbufs(p, workers)) + Overhead(mbufs, workers);

    /// <summary>Why a pool of <paramref name="mbufs"/> cannot serve <paramref name="ports"/>, naming both numbers; null when it can.</summary>
    public static string? Shortfall(IReadOnlyCollection<PortSpec> ports, int mbufs, int workers)
    {
        int rings = ports.Sum(p => RingMbufs(p, workers)), overhead = Overhead(mbufs, workers);
        if (rings + overhead <= mbufs)
            return null;
        return $"{mbufs} mbufs are fewer than the {rings + overhead} the {ports.Count} port(s) need " +
            $"({rings} in rx/tx descriptors of {RingSize}, {overhead} in per-lcore caches and bursts in flight of {workers} worker(s))";
    }
}
