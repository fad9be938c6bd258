using VSwitch.Dataplane.Counters;

namespace VSwitch.Fuzz.Targets;

internal static class Invariants
{
    public static void Check(bool condition, string what)
    {
        if (!condition)
            throw new FuzzInvariantException(what);
    }

    /// <summary>A value the counters can count: DropReason indexes WorkerCounters.Drops.</summary>
    public static void CountableReason(DropReason reason) =>
        Check((uint)reason < (uint)DropReasons.Count, $"drop reason {(int)reason} is outside DropReason");
}
