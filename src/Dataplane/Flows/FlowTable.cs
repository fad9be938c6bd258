// One worker's flows: a fixed table the worker alone writes, with no lock and no allocation, that
// the control side reads while the worker runs.
//
// Memory and output stay bounded whatever the traffic: the table has a fixed number of buckets of
// four ways each. A frame of a flow that is not in its bucket takes an empty way, or else the way
// whose flow has the fewest packets; that flow's packets and bytes move to its tenant's
// aggregate ("other"), so a tenant's totals stay exact. It is the eviction rule of Space-Saving
// (Metwally, Agrawal and El Abbadi, "Efficient Computation of Frequent and Top-k Elements in Data
// Streams", ICDT 2005) taken within one bucket, without the inherited count: a flow's figures are
// exact from the moment it last entered the table, never inflated. A heavy flow leaves only when
// it has fewer packets than every other flow of its bucket, so a flood of new one-frame flows
// churns among themselves and leaves the heavy ones in place.
//
// Readers: each way has a version, odd while the worker replaces its flow and even (and not 0)
// once it holds one. A reader keeps a way's figures only if the version was the same even number
// before and after it read them. Counts of a flow that stays are 64-bit stores, read whole.
//
// Keys hold tenant indexes, which shift when a tenant leaves (SwitchTables.TenantLayout): the
// worker then empties its table (Reset) before it counts a frame under the new indexes, and the
// table's Layout tells a reader which mapping its flows belong to.
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Counters;

namespace VSwitch.Dataplane.Flows;

/// <summary>A flow as read from a table: its key, its figures since it entered, and the drop reasons that hit its frames (bit n: DropReason n).</summary>
public readonly record struct FlowRecord(FlowKey Key, ulong Packets, ulong Bytes, long FirstSeen, long LastSeen, ulong DropReasons);

/// <summary>What a tenant's flows that left the table had carried: packets, bytes, and how many flows.</summary>
public readonly record struct FlowAggregate(ulong Packets, ulong Bytes, ulong Flows);

public sealed class FlowTable
{
    public const int Ways = 4;

    private struct Way
    {
        public int Version;
        public FlowKey Key;
        public ulong Packets, Bytes, DropReasons;
        public long FirstSeen, LastSeen;
    }

    private struct Other
    {
        public ulong Packets, Bytes, Flows;
    }

    private readonly Way[] _ways;
    private readonly uint _bucketMask;
    // Per tenant index + 1: slot 0 holds frames no tenant claimed (an unknown VNI).
    private readonly Other[] _others;
    private int _layout;

    static FlowTable()
    {
        // Each flow keeps its drop reasons in one 64-bit mask.
        if (DropReasons.Count > 64)
            throw new InvalidOperationException($"{DropReasons.Count} drop reasons do not fit a flow's 64-bit mask");
    }

    /// <param name="capacity">Flows the table holds: rounded up to a power of two, at least <see cref="Ways"/>.</param>
    /// <param name="maxTenants">Tenant indexes the aggregates cover (0 .. maxTenants - 1).</param>
    public FlowTable(int capacity, int maxTenants)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTenants, 1);
        int buckets = (int)Math.Max(1, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity) / Ways);
        _ways = new Way[buckets * Ways];
        _bucketMask = (uint)buckets - 1;
        _others = new Other[maxTenants + 1];
    }

    public int Capacity => _ways.Length;

    /// <summary>The SwitchTables.TenantLayout whose tenant indexes the keys hold.</summary>
    public int Layout => Volatile.Read(ref _layout);

    /// <summary>Forgets every flow and aggregate, for tenant layout <paramref name="layout"/>. Worker thread only; allocates nothing.</summary>
    public void Reset(int layout)
    {
        for (int i = 0; i < _ways.Length; i++)
        {
            ref Way way = ref _ways[i];
            int version = way.Version;
            if (version == 0)
                continue;
            Volatile.Write(ref way.Version, version + 1);
            way.Key = default;
            way.Packets = way.Bytes = way.DropReasons = 0;
            way.FirstSeen = way.LastSeen = 0;
            Volatile.Write(ref way.Version, 0);
        }
        Array.Clear(_others);
        Volatile.Write(ref _layout, layout);
    }

    /// <summary>
    /// Counts one frame of <paramref name="bytes"/> on its flow at time <paramref name="now"/>
    /// (any monotonic clock), with the reason it was dropped, if it was. Worker thread only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Record(in FlowKey key, int bytes, long now, DropReason reason)
    {
        int first = (int)(key.Hash() & _bucketMask) * Ways;
        int victim = first;
        ulong fewest = ulong.MaxValue;
        for (int w = first; w < first + Ways; w++)
        {
            ref Way way = ref _ways[w];
            if (way.Version == 0)
            {
                if (fewest != 0)
                    (victim, fewest) = (w, 0);
                continue;
            }
            if (way.Key == key)
            {
                way.Packets++;
                way.Bytes += (ulong)bytes;
                way.LastSeen = now;
                if (reason != DropReason.None)
                    way.DropReasons |= 1UL << (int)reason;
                return;
            }
            if (way.Packets < fewest)
                (victim, fewest) = (w, way.Packets);
        }
        Replace(ref _ways[victim], key, bytes, now, reason);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Replace(ref Way way, in FlowKey key, int bytes, long now, DropReason reason)
    {
        int version = way.Version;
        if (version != 0)
        {
            ref Other other = ref OtherOf(way.Key.Tenant);
            other.Packets += way.Packets;
            other.Bytes += way.Bytes;
            other.Flows++;
        }
        Volatile.Write(ref way.Version, version + 1);
        way.Key = key;
        way.Packets = 1;
        way.Bytes = (ulong)bytes;
        way.FirstSeen = now;
        way.LastSeen = now;
        way.DropReasons = reason == DropReason.None ? 0 : 1UL << (int)reason;
        Volatile.Write(ref way.Version, version + 2);
    }

    private ref Other OtherOf(int tenant) => ref _others[(uint)(tenant + 1) < (uint)_others.Length ? tenant + 1 : 0];

    /// <summary>The flows in the table now, as the worker left them; safe while it runs. Allocates: control side only.</summary>
    public List<FlowRecord> Read()
    {
        var flows = new List<FlowRecord>();
        for (int i = 0; i < _ways.Length; i++)
        {
            ref Way way = ref _ways[i];
            int before = Volatile.Read(ref way.Version);
            if (before == 0 || (before & 1) != 0)
                continue;
            var record = new FlowRecord(way.Key, Volatile.Read(ref way.Packets), Volatile.Read(ref way.Bytes),
                Volatile.Read(ref way.FirstSeen), Volatile.Read(ref way.LastSeen), Volatile.Read(ref way.DropReasons));
            Interlocked.MemoryBarrier();
            // Replaced while it was read: the figures may mix two flows. The flow it held is in its tenant's aggregate now.
            if (Volatile.Read(ref way.Version) == before)
                flows.Add(record);
        }
        return flows;
    }

    /// <summary>What flows of tenant <paramref name="tenant"/> (-1: no tenant) carried before they left this table.</summary>
    public FlowAggregate Aggregate(int tenant)
    {
        ref Other other = ref OtherOf(tenant);
        return new(Volatile.Read(ref other.Packets), Volatile.Read(ref other.Bytes), Volatile.Read(ref other.Flows));
    }
}
