// Counters owned by one worker thread: only that thread writes them, so increments are plain
// (no atomics, no shared cache lines between workers). Readers on the control side sum them
// across workers; a 64-bit aligned load on x64 never tears, so a read is at worst one burst old.
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
    public static CounterSnapshot Sum(IEnumerable<WorkerCounters> workers)
    {
        var drops = new ulong[DropReasons.Count];
        var rx = new ulong[SwitchTables.MaxPorts];
        var tx = new ulong[SwitchTables.MaxPorts];
        var portDrops = new ulong[SwitchTables.MaxPorts];
        ulong unicast = 0, flooded = 0, arp = 0;
        foreach (WorkerCounters w in workers)
        {
            Add(drops, w.Drops);
            Add(rx, w.PortRx);
            Add(tx, w.PortTx);
            Add(portDrops, w.PortDrops);
            unicast += Volatile.Read(ref w.Unicast);
            flooded += Volatile.Read(ref w.Flooded);
            arp += Volatile.Read(ref w.ArpReplies);
        }
        return new CounterSnapshot(drops, rx, tx, portDrops, unicast, flooded, arp);
    }

    private static void Add(ulong[] sum, ulong[] part)
    {
        for (int i = 0; i < sum.Length; i++)
            sum[i] += Volatile.Read(ref part[i]);
    }
}
