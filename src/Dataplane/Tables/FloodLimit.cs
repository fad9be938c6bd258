// One VM port's flood limit as a tables snapshot carries it: rate and burst per worker.
// The buckets that spend it are the workers' own (Switching/FloodLimiter.cs).
using System.Diagnostics;

namespace VSwitch.Dataplane.Tables;

/// <summary>One VM port's share of its flood limit on one worker, in credit units: one frame costs Stopwatch.Frequency.</summary>
public sealed class FloodLimit
{
    /// <summary>Credit gained per timestamp tick: the frames per second of this share.</summary>
    public required long RatePps { get; init; }
    /// <summary>The most credit a bucket holds: the burst of this share times the cost of a frame.</summary>
    public required long Capacity { get; init; }
    /// <summary>Ticks after which an empty bucket is full again: larger gaps are not multiplied (no overflow).</summary>
    public required long FillTicks { get; init; }

    public static long FrameCost => Stopwatch.Frequency;

    /// <summary>The share of <paramref name="ratePps"/> and <paramref name="burst"/> of each of <paramref name="workers"/> workers that poll the port, rounded up.</summary>
    public static FloodLimit Share(int ratePps, int burst, int workers)
    {
        workers = Math.Max(1, workers);
        long rate = (ratePps + workers - 1) / workers;
        long capacity = (burst + workers - 1) / workers * FrameCost;
        return new FloodLimit { RatePps = rate, Capacity = capacity, FillTicks = (capacity + rate - 1) / rate };
    }
}
