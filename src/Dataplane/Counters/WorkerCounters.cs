// Counters owned by one worker thread: only that thread writes them, so increments are plain
// (no atomics, no shared cache lines between workers). Readers on the control side sum them
// across workers; a 64-bit aligned load on x64 never tears, so a read is at worst one burst old.
using VSwitch.Dataplane.Overlay;
using VSwitch.Dataplane.Switching;

namespace VSwitch.Dataplane.Counters;

public sealed class WorkerCounters
{
    public readonly ulong[] Drops = new ulong[DropReasons.Count];
    public readonly ulong[] PortRx = new ulong[SwitchTables.MaxPorts];
    public readonly ulong[] PortTx = new ulong[SwitchTables.MaxPorts];
    /// <summary>Drops charged to a port: at ingress for a classified drop, at egress for tx_queue_full.</summary>
    public readonly ulong[] PortDrops = new ulong[SwitchTables.MaxPorts];
    public ulong Unicast;
    /// <summary>Frames flooded, once per frame however many copies went out.</summary>
    public ulong Flooded;
    public ulong ArpReplies;
    /// <summary>Per remote host (RemoteHost.Index): frames encapsulated toward it, head-end replicas included.</summary>
    public readonly ulong[] TunnelEncap = new ulong[OverlaySpec.MaxRemoteHosts];
    /// <summary>Per remote host: frames from it decapsulated and passed to the tenant checks' destination stage.</summary>
    public readonly ulong[] TunnelDecap = new ulong[OverlaySpec.MaxRemoteHosts];
    /// <summary>Per remote host: GENEVE options carried by decapsulated frames, and how many of them were critical (and understood).</summary>
    public readonly ulong[] TunnelGeneveOptions = new ulong[OverlaySpec.MaxRemoteHosts];
    public readonly ulong[] TunnelGeneveCriticalOptions = new ulong[OverlaySpec.MaxRemoteHosts];
    /// <summary>ARP requests for our VTEP address answered on the uplink.</summary>
    public ulong VtepArpReplies;
    /// <summary>ARP replies from a next hop, learned and consumed.</summary>
    public ulong NeighbourReplies;
    /// <summary>ARP requests for next hops sent on the uplink for the neighbour resolver.</summary>
    public ulong ArpRequestsSent;
    public ulong Polls;
    public ulong Packets;
    /// <summary>Managed bytes this worker thread allocated since its first burst (GC.GetAllocatedBytesForCurrentThread); -1 before.</summary>
    public long AllocatedBytes = -1;
    /// <summary>Poll loops completed; the control side waits on it to know a table swap has been seen.</summary>
    public long Epoch;
}

/// <summary>A point-in-time sum of every worker's counters.</summary>
public sealed record CounterSnapshot(ulong[] Drops, ulong[] PortRx, ulong[] PortTx, ulong[] PortDrops, ulong Unicast, ulong Flooded, ulong ArpReplies)
{
    public ulong[] TunnelEncap { get; init; } = new ulong[OverlaySpec.MaxRemoteHosts];
    public ulong[] TunnelDecap { get; init; } = new ulong[OverlaySpec.MaxRemoteHosts];
    public ulong[] TunnelGeneveOptions { get; init; } = new ulong[OverlaySpec.MaxRemoteHosts];
    public ulong[] TunnelGeneveCriticalOptions { get; init; } = new ulong[OverlaySpec.MaxRemoteHosts];
    public ulong VtepArpReplies { get; init; }
    public ulong NeighbourReplies { get; init; }
    public ulong ArpRequestsSent { get; init; }

    public static CounterSnapshot Sum(IEnumerable<WorkerCounters> workers)
    {
        var drops = new ulong[DropReasons.Count];
        var rx = new ulong[SwitchTables.MaxPorts];
        var tx = new ulong[SwitchTables.MaxPorts];
        var portDrops = new ulong[SwitchTables.MaxPorts];
        ulong unicast = 0, flooded = 0, arp = 0, vtepArp = 0, neighbourReplies = 0, requests = 0;
        var encap = new ulong[OverlaySpec.MaxRemoteHosts];
        var decap = new ulong[OverlaySpec.MaxRemoteHosts];
        var options = new ulong[OverlaySpec.MaxRemoteHosts];
        var critical = new ulong[OverlaySpec.MaxRemoteHosts];
        foreach (WorkerCounters w in workers)
        {
            Add(encap, w.TunnelEncap);
            Add(decap, w.TunnelDecap);
            Add(options, w.TunnelGeneveOptions);
            Add(critical, w.TunnelGeneveCriticalOptions);
            vtepArp += Volatile.Read(ref w.VtepArpReplies);
            neighbourReplies += Volatile.Read(ref w.NeighbourReplies);
            requests += Volatile.Read(ref w.ArpRequestsSent);
            Add(drops, w.Drops);
            Add(rx, w.PortRx);
            Add(tx, w.PortTx);
            Add(portDrops, w.PortDrops);
            unicast += Volatile.Read(ref w.Unicast);
            flooded += Volatile.Read(ref w.Flooded);
            arp += Volatile.Read(ref w.ArpReplies);
        }
        return new CounterSnapshot(drops, rx, tx, portDrops, unicast, flooded, arp)
        {
            TunnelEncap = encap,
            TunnelDecap = decap,
            TunnelGeneveOptions = options,
            TunnelGeneveCriticalOptions = critical,
            VtepArpReplies = vtepArp,
            NeighbourReplies = neighbourReplies,
            ArpRequestsSent = requests,
        };
    }

    private static void Add(ulong[] sum, ulong[] part)
    {
        for (int i = 0; i < sum.Length; i++)
            sum[i] += Volatile.Read(ref part[i]);
    }
}
