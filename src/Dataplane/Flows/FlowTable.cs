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
// The probe reads a bucket's four 32-bit signatures (bits of the key's hash; 0: empty way), 16
// bytes beside those of three other buckets, and compares a way's 64-byte key only where its
// signature matches: a hit touches one key, a miss none until it picks its victim.
//
// Sampling (flows.sample_rate N): every frame adds to its tenant's exact totals, a handful of
// instructions inline in the worker's loop, and one frame in N, taken out of line, is keyed and
// counted N times on its flow (sFlow's estimate, RFC 3176 section 4.2.1). N = 1 counts every
// frame on its flow exactly.
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
        // What the tenant's flows that left the table carried, and how many they were.
        public ulong Packets, Bytes, Flows;
        // Every frame of the tenant, sampled or not: exact.
        public ulong TotalPackets, TotalBytes;
    }

    private readonly Way[] _ways;
    // Per way, the worker's own: its flow's signature (Signature()), 0 while empty.
    private readonly uint[] _signatures;
    private readonly uint _bucketMask;
    // Per tenant index + 1: slot 0 holds frames no tenant claimed (an unknown VNI).
    private readonly Other[] _others;
    private int _layout;
    private readonly int _sampleRate;
    // Sampled frames whose fates are not known yet: a burst's, taken before it is switched
    // (TakeSampleAt) and counted once every frame's fate is known (CountSamples), or the one frame
    // between TakeSample and CountSample. Their keys, bytes and places in the burst.
    private readonly FlowKey[] _burstKeys;
    private readonly int[] _burstBytes, _burstIndexes;
    private int _burstSamples;

    static FlowTable()
    {
        // Each flow keeps its drop reasons in one 64-bit mask.
        if (DropReasons.Count > 64)
            throw new InvalidOperationException($"{DropReasons.Count} drop reasons do not fit a flow's 64-bit mask");
    }

    /// <param name="capacity">Flows the table holds: rounded up to a power of two, at least <see cref="Ways"/>.</param>
    /// <param name="maxTenants">Tenant indexes the aggregates cover (0 .. maxTenants - 1).</param>
    /// <param name="sampleRate">One frame in this many is counted on its flow (Observe); 1: every frame.</param>
    /// <param name="maxBurst">Frames of the largest burst the worker counts at once (FlowTableAccounting.ObserveBurst).</param>
    public FlowTable(int capacity, int maxTenants, int sampleRate = 1, int maxBurst = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBurst, 1);
        _burstKeys = new FlowKey[maxBurst];
        _burstBytes = new int[maxBurst];
        _burstIndexes = new int[maxBurst];
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRate, 1);
        _sampleRate = Countdown = sampleRate;
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTenants, 1);
        int buckets = (int)Math.Max(1, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity) / Ways);
        _ways = new Way[buckets * Ways];
        _signatures = new uint[buckets * Ways];
        _bucketMask = (uint)buckets - 1;
        _others = new Other[maxTenants + 1];
    }

    public int Capacity => _ways.Length;

    public int SampleRate => _sampleRate;

    /// <summary>Frames until the next sample; the worker's accounting keeps it in a local over a burst (FlowTableAccounting).</summary>
    internal int Countdown { get; set; }

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
            _signatures[i] = 0;
        }
        Array.Clear(_others);
        Volatile.Write(ref _layout, layout);
    }

    /// <summary>
    /// Counts one frame of <paramref name="bytes"/> on its flow at time <paramref name="now"/>
    /// (any monotonic clock), with the reason it was dropped, if it was; exactly, whatever the
    /// sample rate. Worker thread only.
    /// </summary>
    public void Record(in FlowKey key, int bytes, long now, DropReason reason)
    {
        AddToTotals(key.Tenant, bytes);
        Count(key, bytes, 1, now, reason);
    }

    /// <summary>Reads the key of a frame the worker sampled; CountSample follows once the frame's fate is known.</summary>
    internal void TakeSample(int tenant, uint vni, ReadOnlySpan<byte> frame) => TakeSampleAt(0, tenant, vni, frame);

    /// <summary>Counts the frame Observe sampled, SampleRate times over, with the reason it was dropped, if it was.</summary>
    public void CountSample(long now, DropReason reason) => CountSamples(new ReadOnlySpan<DropReason>(in reason), now);

    /// <summary>
    /// Reads the key of frame <paramref name="index"/> of a burst, sampled before the burst is
    /// switched; CountSamples counts it once the burst's fates are known. A burst has at most
    /// maxBurst frames, so at most that many samples.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void TakeSampleAt(int index, int tenant, uint vni, ReadOnlySpan<byte> frame)
    {
        int sample = _burstSamples;
        if ((uint)sample >= (uint)_burstKeys.Length)
            return;
        _burstKeys[sample] = FlowKey.FromFrame(tenant, vni, frame);
        _burstBytes[sample] = frame.Length;
        _burstIndexes[sample] = index;
        _burstSamples = sample + 1;
    }

    /// <summary>Counts the burst's samples (TakeSampleAt), each SampleRate times over, with the reason its frame was dropped (indexed by its place in the burst).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void CountSamples(ReadOnlySpan<DropReason> reasons, long now)
    {
        for (int s = 0; s < _burstSamples; s++)
        {
            int index = _burstIndexes[s];
            Count(_burstKeys[s], _burstBytes[s], _sampleRate, now, (uint)index < (uint)reasons.Length ? reasons[index] : DropReason.None);
        }
        _burstSamples = 0;
    }

    private void AddToTotals(int tenant, int bytes) => AddToTotals(tenant, 1, (ulong)bytes);

    /// <summary>Adds a run of one tenant's frames to its totals (nothing for an empty run).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void AddToTotals(int tenant, ulong packets, ulong bytes)
    {
        if (packets == 0)
            return;
        ref Other other = ref OtherOf(tenant);
        other.TotalPackets += packets;
        other.TotalBytes += bytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Count(in FlowKey key, int bytes, int weight, long now, DropReason reason)
    {
        uint hash = key.Hash();
        int first = (int)(hash & _bucketMask) * Ways;
        uint signature = Signature(hash);
        ReadOnlySpan<uint> signatures = _signatures.AsSpan(first, Ways);
        for (int w = 0; w < signatures.Length; w++)
        {
            if (signatures[w] != signature)
                continue;
            ref Way way = ref _ways[first + w];
            if (!way.Key.Equals(key))
                continue;
            way.Packets += (ulong)weight;
            way.Bytes += (ulong)bytes * (ulong)weight;
            way.LastSeen = now;
            if (reason != DropReason.None)
                way.DropReasons |= 1UL << (int)reason;
            return;
        }
        Replace(first, signature, key, (ulong)bytes * (ulong)weight, (ulong)weight, now, reason);
    }

    // The hash's bits above those that chose the bucket first, and never 0 (an empty way).
    private static uint Signature(uint hash) => System.Numerics.BitOperations.RotateRight(hash, 16) | 1;

    /// <summary>A new flow in the bucket at <paramref name="first"/>: an empty way, else the way whose flow has the fewest packets.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Replace(int first, uint signature, in FlowKey key, ulong bytes, ulong packets, long now, DropReason reason)
    {
        int victim = first;
        ulong fewest = ulong.MaxValue;
        for (int w = first; w < first + Ways; w++)
        {
            if (_signatures[w] == 0)
            {
                victim = w;
                break;
            }
            if (_ways[w].Packets < fewest)
                (victim, fewest) = (w, _ways[w].Packets);
        }
        _signatures[victim] = signature;
        ref Way way = ref _ways[victim];
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
        way.Packets = packets;
        way.Bytes = bytes;
        way.FirstSeen = now;
        way.LastSeen = now;
        way.DropReasons = reason == DropReason.None ? 0 : 1UL << (int)reason;
        Volatile.Write(ref way.Version, version + 2);
    }

    private ref Other OtherOf(int tenant) => ref _others[(uint)(tenant + 1) < (uint)_others.Length ? tenant + 1 : 0];

    /// <summary>The flows in the table now, as the worker left them; safe while it runs. Allocates: control side only.</summary>
    public List<FlowRecord> Read() => Read([]);

    /// <summary>The flows in the table now, into <paramref name="flows"/> (cleared first); returns it.</summary>
    public List<FlowRecord> Read(List<FlowRecord> flows)
    {
        flows.Clear();
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

    /// <summary>Every frame of tenant <paramref name="tenant"/> (-1: no tenant) this table saw since its last reset: exact, whatever the sample rate.</summary>
    public (ulong Packets, ulong Bytes) Totals(int tenant)
    {
        ref Other other = ref OtherOf(tenant);
        return (Volatile.Read(ref other.TotalPackets), Volatile.Read(ref other.TotalBytes));
    }
}
