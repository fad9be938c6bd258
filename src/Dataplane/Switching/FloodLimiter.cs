// The per-VM flood limit: broadcast, multicast and unknown unicast from one VM are copied to every
// other port of its tenant (and broadcast and multicast to every remote host), so a VM that
// floods multiplies its traffic; each VM gets a token bucket of flood_burst frames refilled at
// flood_rate_pps. Frames beyond it are dropped as flood_rate_exceeded. Known unicast, encapsulated
// unicast and ARP answered by the responder cost nothing and take no token.
//
// Each worker keeps its own buckets (FloodLimiter, one per port id): no shared writes, no locks.
// A VM port whose queues several workers poll gets an equal share of rate and burst on each, so
// its floods together stay within the configured figures. A new tables snapshot brings new
// FloodLimit objects, and a bucket that sees a new one starts full.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Dataplane.Switching;

/// <summary>A monotonic timestamp source with Stopwatch.Frequency ticks per second.</summary>
public interface IClock
{
    long Now();
}

/// <summary>Stopwatch's timestamp (clock_gettime(CLOCK_MONOTONIC) through the vDSO on Linux): read only for flooded frames.</summary>
public readonly struct SystemClock : IClock
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Now() => Stopwatch.GetTimestamp();
}

/// <summary>One worker's flood buckets, indexed by port id. Used by that worker's thread only.</summary>
public sealed class FloodLimiter
{
    private struct Bucket
    {
        public FloodLimit? Limit;
        public long Credit;
        public long Stamp;
    }

    private readonly Bucket[] _buckets = new Bucket[SwitchTables.MaxPorts];

    /// <summary>
    /// Takes a token for a frame that <paramref name="action"/> floods; other actions pass without
    /// reading the clock. Returns DropReason.FloodRateExceeded when the VM's bucket is empty.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DropReason Admit<TClock>(SwitchTables tables, ushort port, ForwardAction action, TClock clock) where TClock : struct, IClock =>
        action is ForwardAction.Flood or ForwardAction.FloodLocal ? Take(tables.FloodLimits[port], port, clock.Now()) : DropReason.None;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private DropReason Take(FloodLimit? limit, ushort port, long now)
    {
        if (limit is null)
            return DropReason.None;
        ref Bucket bucket = ref _buckets[port];
        if (!ReferenceEquals(bucket.Limit, limit))
        {
            bucket.Limit = limit;
            bucket.Credit = limit.Capacity;
            bucket.Stamp = now;
        }
        long elapsed = Math.Max(0, now - bucket.Stamp);
        bucket.Stamp = now;
        long credit = elapsed >= limit.FillTicks ? limit.Capacity : Math.Min(limit.Capacity, bucket.Credit + elapsed * limit.RatePps);
        if (credit < FloodLimit.FrameCost)
        {
            bucket.Credit = credit;
            return DropReason.FloodRateExceeded;
        }
        bucket.Credit = credit - FloodLimit.FrameCost;
        return DropReason.None;
    }
}
