// How long the supervisor waits before restarting a child that died (docs/agent.md,
// "Supervision"): 0.5 s after the first failure, doubling to at most 30 s, so a child that dies
// at once costs the host a start every 30 s rather than a busy loop, while one that died once
// is back within half a second. A child that ran at least 60 s before dying starts the count
// again: it was healthy, and its next failure is a new one.
namespace VSwitch.Control.Agent.Supervision;

public sealed record RestartBackoff(TimeSpan First, TimeSpan Longest, TimeSpan ResetAfter)
{
    public static RestartBackoff Default { get; } = new(TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60));

    /// <summary>The wait before the restart that follows the <paramref name="failures"/>-th failure in a row (1 or more): First × 2^(failures − 1), at most Longest.</summary>
    public TimeSpan DelayAfter(int failures)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        // 2^30 × any First beyond a tick already exceeds every sensible Longest; capping the
        // exponent keeps the multiplication from overflowing.
        double factor = Math.Pow(2, Math.Min(failures - 1, 30));
        return First * factor < Longest ? First * factor : Longest;
    }

    /// <summary>Failures in a row once a child that ran for <paramref name="ran"/> has died, after <paramref name="previous"/> before it.</summary>
    public int FailuresAfter(int previous, TimeSpan ran) => ran >= ResetAfter ? 1 : previous + 1;
}
