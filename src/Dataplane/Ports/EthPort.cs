// One DPDK ethdev as vswitchd uses it: looked up by device name, configured with the VM's queue
// pairs for rx and one tx queue set per worker, started, and read for its hardware counters.
// Setup errors are fatal and name the port; nothing here runs per packet.
using System.Runtime.InteropServices;
using VSwitch.Dataplane.Interop;
using VSwitch.Dataplane.Switching;
using static VSwitch.Dataplane.Interop.Interop;

namespace VSwitch.Dataplane.Ports;

/// <summary>rte_eth_stats fields vswitchd reports.</summary>
public readonly record struct EthStats(ulong Ipackets, ulong Opackets, ulong Imissed, ulong Ierrors, ulong Oerrors, ulong RxNoMbuf);

public sealed class PortSetupException(string message) : Exception(message);

internal static unsafe class EthPort
{
    private const ushort RingSize = MbufBudget.RingSize;

    /// <summary>Finds the device DPDK created for this port's devargs and brings it up.</summary>
    public static ushort Start(PortSpec port, int workers, IntPtr mempool)
    {
        ushort portId;
        if (rte_eth_dev_get_port_by_name(port.DeviceName, &portId) != 0)
            throw new PortSetupException($"port '{port.Name}': DPDK has no device '{port.DeviceName}' (devargs '{port.Devargs}'); is its driver loaded?");

        NativeLayout layout = Mbuf.Layout;
        byte* info = stackalloc byte[(int)layout.EthDevInfoSize];
        new Span<byte>(info, (int)layout.EthDevInfoSize).Clear();
        Check(port, "rte_eth_dev_info_get", rte_eth_dev_info_get(portId, info));
        int maxRx = *(ushort*)(info + layout.DevInfoMaxRxQueues);
        int maxTx = *(ushort*)(info + layout.DevInfoMaxTxQueues);
        int rxQueues = port.Queues;
        int txQueues = port.Queues * workers;
        if (rxQueues > maxRx || txQueues > maxTx)
            throw new PortSetupException(
                $"port '{port.Name}': needs {rxQueues} rx and {txQueues} tx queues ({port.Queues} queue(s) x {workers} worker(s)), " +
                $"device '{port.DeviceName}' offers {maxRx} rx and {maxTx} tx (for net_pcap, give one rx_pcap/tx_pcap per queue)");

        byte* conf = stackalloc byte[(int)layout.EthConfSize];
        new Span<byte>(conf, (int)layout.EthConfSize).Clear();
        Check(port, "rte_eth_dev_configure", rte_eth_dev_configure(portId, (ushort)rxQueues, (ushort)txQueues, conf));
        uint socket = (uint)Math.Max(0, rte_socket_id());
        for (ushort q = 0; q < rxQueues; q++)
            Check(port, $"rte_eth_rx_queue_setup({q})", rte_eth_rx_queue_setup(portId, q, RingSize, socket, null, mempool));
        for (ushort q = 0; q < txQueues; q++)
            Check(port, $"rte_eth_tx_queue_setup({q})", rte_eth_tx_queue_setup(portId, q, RingSize, socket, null));
        // MTU is enforced in software on every frame; a driver that cannot set it (net_pcap, net_null) is fine.
        _ = rte_eth_dev_set_mtu(portId, (ushort)port.Mtu);
        Check(port, "rte_eth_dev_start", rte_eth_dev_start(portId));
        _ = rte_eth_promiscuous_enable(portId);
        return portId;
    }

    public static void Stop(ushort portId)
    {
        _ = rte_eth_dev_stop(portId);
        _ = rte_eth_dev_close(portId);
    }

    /// <summary>The port's own MAC address (rte_eth_macaddr_get); 0 when the driver cannot say.</summary>
    public static ulong MacAddress(ushort portId)
    {
        byte* mac = stackalloc byte[6];
        return rte_eth_macaddr_get(portId, mac) == 0 ? Protocols.MacAddress.Read(new ReadOnlySpan<byte>(mac, 6)) : 0;
    }

    public static EthStats ReadStats(ushort portId)
    {
        NativeLayout layout = Mbuf.Layout;
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
            *(ulong*)(stats + layout.EthStatsRxNombuf));
    }

    private static void Check(PortSpec port, string call, int rc)
    {
        if (rc < 0)
            throw new PortSetupException($"port '{port.Name}': {call} failed: {RteStrError(-rc)}");
    }
}
