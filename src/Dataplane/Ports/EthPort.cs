// One DPDK ethdev as vswitchd uses it: looked up by device name, configured with the VM's queue
// pairs for rx and one tx queue set per worker, started, and read for its hardware counters.
// Setup errors are fatal and name the port; nothing here runs per packet.
using VSwitch.Dataplane.Interop;
using VSwitch.Dataplane.Spec;
using static VSwitch.Dataplane.Interop.Interop;

namespace VSwitch.Dataplane.Ports;

public sealed class PortSetupException(string message) : Exception(message);

internal static class EthPort
{
    private const ushort RingSize = MbufBudget.RingSize;

    /// <summary>Finds the device DPDK created for this port's devargs and brings it up.</summary>
    /// <param name="discarded">Frames an af_packet port held before it was started, thrown away (see below).</param>
    public static ushort Start(PortSpec port, int workers, IntPtr mempool, out int discarded)
    {
        if (!EthDev.TryGetPortByName(port.DeviceName, out ushort portId))
            throw new PortSetupException($"port '{port.Name}': DPDK has no device '{port.DeviceName}' (devargs '{port.Devargs}'); is its driver loaded?");

        Check(port, "rte_eth_dev_info_get", EthDev.QueueLimits(portId, out int maxRx, out int maxTx));
        int rxQueues = port.Queues;
        int txQueues = port.Queues * workers;
        if (rxQueues > maxRx || txQueues > maxTx)
            throw new PortSetupException(
                $"port '{port.Name}': needs {rxQueues} rx and {txQueues} tx queues ({port.Queues} queue(s) x {workers} worker(s)), " +
                $"device '{port.DeviceName}' offers {maxRx} rx and {maxTx} tx (for net_pcap, give one rx_pcap/tx_pcap per queue)");

        Check(port, "rte_eth_dev_configure", EthDev.Configure(portId, (ushort)rxQueues, (ushort)txQueues));
        uint socket = (uint)Math.Max(0, rte_socket_id());
        for (ushort q = 0; q < rxQueues; q++)
            Check(port, $"rte_eth_rx_queue_setup({q})", EthDev.RxQueueSetup(portId, q, RingSize, socket, mempool));
        for (ushort q = 0; q < txQueues; q++)
            Check(port, $"rte_eth_tx_queue_setup({q})", EthDev.TxQueueSetup(portId, q, RingSize, socket));
        // MTU is enforced in software on every frame; a driver that cannot set it (net_pcap, net_null) is fine.
        _ = rte_eth_dev_set_mtu(portId, (ushort)port.Mtu);
        Check(port, "rte_eth_dev_start", rte_eth_dev_start(portId));
        _ = rte_eth_promiscuous_enable(portId);
        BindEthdevBursts(portId);
        // DPDK 22.11's net_af_packet opens each queue's socket with protocol ETH_P_ALL, and such a
        // socket takes frames from every interface of the namespace until the driver binds it to
        // its iface, after the rx ring exists (fixed in DPDK 24.11, commit 5b81eac5fd "net/af_packet:
        // specify no protocol on socket creation"). Whatever the ring holds now may be another
        // interface's, another tenant's, frame: none of it is switched as this port's.
        discarded = port.DeviceName.StartsWith("net_af_packet", StringComparison.Ordinal) ? EthDev.DiscardReceived(portId, rxQueues) : 0;
        return portId;
    }

    public static void Stop(ushort portId)
    {
        _ = rte_eth_dev_stop(portId);
        _ = rte_eth_dev_close(portId);
    }

    private static void Check(PortSpec port, string call, int rc)
    {
        if (rc < 0)
            throw new PortSetupException($"port '{port.Name}': {call} failed: {RteStrError(-rc)}");
    }
}
