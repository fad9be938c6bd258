// Counters owned by one worker thread: only that thread writes them, so increments are plain
// (no atomics, no shared cache lines between workers). Readers on the control side sum them
// across workers; a 64-bit aligned load on x64 never tears, so a read is at worst one burst old.
// Each counter is declared here once: Sum adds every ulong and ulong[] field, and the counters
// report names each scalar outcome counter by its field name in snake_case (Counters/CounterReport.cs).
// The tables' and the overlay's limits size the arrays: the owner passes them in, so this folder
// depends on neither.
using System.Numerics;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace VSwitch.Dataplane.Counters;

/// <param name="ports">Port ids the per-port arrays cover.</param>
/// <param name="queuesPerPort">Queues of each port in the per-queue arrays, a power of two: a queue slot is port × queuesPerPort + queue, as SwitchTables.QueueSlot indexes them.</param>
/// <param name="remoteHosts">Entries of the per-remote-host arrays, indexed by RemoteHost.Index.</param>
public sealed class WorkerCounters(int ports, int queuesPerPort, int remoteHosts)
{
    private readonly int _queueShift = BitOperations.IsPow2(queuesPerPort)
        ? BitOperations.Log2((uint)queuesPerPort)
        : throw new ArgumentOutOfRangeException(nameof(queuesPerPort), queuesPerPort, "not a power of two");

    public int Ports => ports;
    public int QueuesPerPort => queuesPerPort;

    public readonly ulong[] Drops = new ulong[DropReasons.Count];
    /// <summary>Per (port, reason), at port × DropReasons.Count + reason: the drops charged to the port's queues (QueueDrops), by reason.</summary>
    public readonly ulong[] PortDrops = new ulong[ports * DropReasons.Count];
    // Per (port, queue); a port's counts are the sums over its queues.
    /// <summary>Frames received on a port's rx queue (from a VM's transmit vring for a vhost port).</summary>
    public readonly ulong[] QueueRx = new ulong[ports * queuesPerPort];
    /// <summary>Frames sent on a port's queue (into a VM's receive vring for a vhost port).</summary>
    public readonly ulong[] QueueTx = new ulong[ports * queuesPerPort];
    /// <summary>Drops charged to a queue: the rx queue for a classified drop, the tx queue for a frame the queue did not take.</summary>
    public readonly ulong[] QueueDrops = new ulong[ports * queuesPerPort];
    public ulong Unicast;
    /// <summary>Frames flooded, once per frame however many copies went out.</summary>
    public ulong Flooded;
    public ulong ArpReplies;
    /// <summary>Per remote host (RemoteHost.Index): frames encapsulated toward it, head-end replicas included.</summary>
    public readonly ulong[] TunnelEncap = new ulong[remoteHosts];
    /// <summary>Per remote host: frames from it decapsulated and passed to the tenant checks' destination stage.</summary>
    public readonly ulong[] TunnelDecap = new ulong[remoteHosts];
    /// <summary>Per remote host: GENEVE options carried by decapsulated frames, and how many of them were critical (and understood).</summary>
    public readonly ulong[] TunnelGeneveOptions = new ulong[remoteHosts];
    public readonly ulong[] TunnelGeneveCriticalOptions = new ulong[remoteHosts];
    /// <summary>ARP requests for our VTEP address answered on the uplink.</summary>
    public ulong VtepArpReplies;
    /// <summary>ARP replies from a next hop, learned and consumed.</summary>
    public ulong NeighbourReplies;
    /// <summary>ARP requests for next hops sent on the uplink for the neighbour resolver.</summary>
    public ulong ArpRequestsSent;
    [PerWorker]
    public ulong Polls;
    [PerWorker]
    public ulong Packets;
    /// <summary>TSC cycles of poll loops that received frames, as DPDK and OVS count busy cycles: over Packets, the work per frame.</summary>
    [PerWorker]
    public ulong BusyCycles;
    /// <summary>TSC cycles of poll loops that found every queue empty, idle sleeps included.</summary>
    [PerWorker]
    public ulong IdleCycles;
    /// <summary>Managed bytes this worker thread allocated since its first burst (GC.GetAllocatedBytesForCurrentThread); -1 before.</summary>
    public long AllocatedBytes = -1;
    /// <summary>Methods JIT-compiled on this worker thread since its first burst (JitInfo): 0 when WorkerPrecompile covered every path it took.</summary>
    public long JitMethods;
    /// <summary>Poll loops completed; the control side waits on it to know a table swap has been seen.</summary>
    public long Epoch;

    /// <summary>
    /// Counts <paramref name="frames"/> dropped for <paramref name="reason"/> and charged to queue
    /// slot <paramref name="queueSlot"/>: host-wide, at the queue, and at its port by reason.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void DropAt(int queueSlot, DropReason reason, uint frames)
    {
        Drops[(int)reason] += frames;
        QueueDrops[queueSlot] += frames;
        PortDrops[(queueSlot >> _queueShift) * DropReasons.Count + (int)reason] += frames;
    }

    /// <summary>The port's drops by reason (indexed by DropReason), copied.</summary>
    public ulong[] PortDropsOf(int port) => PortDrops.AsSpan(port * DropReasons.Count, DropReasons.Count).ToArray();

    private static readonly FieldInfo[] s_scalars = Fields(typeof(ulong));
    private static readonly FieldInfo[] s_arrays = Fields(typeof(ulong[]));

    private static readonly FieldInfo[] s_outcomes = [.. s_scalars.Where(f => f.GetCustomAttribute<PerWorkerAttribute>() is null)];

    /// <summary>The ulong fields that count what happened to frames: all but the [PerWorker] ones.</summary>
    internal static IReadOnlyList<FieldInfo> Outcomes => s_outcomes;

    /// <summary>
    /// A new WorkerCounters holding the sum of every worker's counters, field by field, read while
    /// the workers run (each a whole 64-bit load). Epoch and AllocatedBytes are per worker and not summed.
    /// </summary>
    public static WorkerCounters Sum(IReadOnlyList<WorkerCounters> workers) => Sum(workers, null);

    /// <summary>
    /// The sum into <paramref name="into"/>, zeroed first, when it has the workers' shape (else a
    /// new one): a caller that sums once a second (/metrics) keeps one instead of allocating its
    /// per-queue arrays (200 KB) each time.
    /// </summary>
    public static WorkerCounters Sum(IReadOnlyList<WorkerCounters> workers, WorkerCounters? into)
    {
        (int ports, int queues, int hosts) = workers.Count == 0 ? (0, 1, 0) : (workers[0].Ports, workers[0].QueuesPerPort, workers[0].TunnelEncap.Length);
        WorkerCounters sum = into is not null && into.Ports == ports && into.QueuesPerPort == queues && into.TunnelEncap.Length == hosts
            ? into
            : new WorkerCounters(ports, queues, hosts);
        if (ReferenceEquals(sum, into))
        {
            foreach (FieldInfo field in s_scalars)
                field.SetValue(sum, 0UL);
            foreach (FieldInfo field in s_arrays)
                Array.Clear((ulong[])field.GetValue(sum)!);
        }
        foreach (WorkerCounters w in workers)
        {
            foreach (FieldInfo field in s_scalars)
            {
                // A 64-bit aligned load: never torn, at worst a burst old.
                field.SetValue(sum, (ulong)field.GetValue(sum)! + (ulong)field.GetValue(w)!);
            }
            foreach (FieldInfo field in s_arrays)
            {
                ulong[] total = (ulong[])field.GetValue(sum)!, part = (ulong[])field.GetValue(w)!;
                for (int i = 0; i < total.Length; i++)
                    total[i] += Volatile.Read(ref part[i]);
            }
        }
        return sum;
    }

    private static FieldInfo[] Fields(Type type) =>
        [.. typeof(WorkerCounters).GetFields(BindingFlags.Public | BindingFlags.Instance).Where(f => f.FieldType == type)];
}


/// <summary>A counter reported per worker (the counters report's "workers"), not among the totals.</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class PerWorkerAttribute : Attribute;
