// The restart backoff's arithmetic (docs/agent.md, "Supervision"): 0.5 s doubling to 30 s, and a
// child that ran 60 s counts its next failure as the first.
using VSwitch.Control.Agent.Supervision;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Supervision;

public sealed class RestartBackoffTests
{
    private static readonly RestartBackoff Backoff = RestartBackoff.Default;

    [Fact]
    public void The_defaults_are_the_documented_numbers()
    {
        Assert.Equal(new RestartBackoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60)), Backoff);
    }

    [Fact]
    public void The_delay_doubles_from_the_first_up_to_the_longest()
    {
        double[] seconds = [.. Enumerable.Range(1, 9).Select(n => Backoff.DelayAfter(n).TotalSeconds)];
        Assert.Equal([0.5, 1, 2, 4, 8, 16, 30, 30, 30], seconds);
    }

    [Theory]
    [InlineData(31)]
    [InlineData(64)]
    [InlineData(int.MaxValue)]
    public void Endless_failures_stay_at_the_longest_delay(int failures) =>
        Assert.Equal(TimeSpan.FromSeconds(30), Backoff.DelayAfter(failures));

    [Fact]
    public void There_is_no_delay_before_any_failure() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Backoff.DelayAfter(0));

    [Fact]
    public void A_short_run_adds_a_failure_and_a_long_one_starts_the_count_again()
    {
        Assert.Equal(1, Backoff.FailuresAfter(0, TimeSpan.Zero));
        Assert.Equal(5, Backoff.FailuresAfter(4, TimeSpan.FromSeconds(59.9)));
        Assert.Equal(1, Backoff.FailuresAfter(4, TimeSpan.FromSeconds(60)));
        Assert.Equal(1, Backoff.FailuresAfter(12, TimeSpan.FromHours(3)));
    }
}
