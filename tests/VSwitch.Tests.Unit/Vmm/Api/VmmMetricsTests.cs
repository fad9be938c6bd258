// The steal family on a host whose kernel keeps no schedstat: present, without samples, and
// saying why in its help, so a dashboard's empty graph has its explanation beside it.
using System.Text.Json.Nodes;
using VSwitch.Vmm.Api;
using VSwitch.Vmm.Machine;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Api;

public sealed class VmmMetricsTests
{
    private static JsonObject Steal(VmStatistics stats) =>
        VmmMetrics.From(stats).Select(f => f!.AsObject()).Single(f => (string?)f["name"] == "vmm_vcpu_steal_seconds_total");

    [Fact]
    public void Without_schedstat_the_steal_family_has_no_samples_and_says_why()
    {
        JsonObject steal = Steal(new VmStatistics([[0, 0, 0, 0], [0, 0, 0, 0]], [], []) { VcpuSteal = [null, null] });
        Assert.Empty(steal["samples"]!.AsArray());
        Assert.Contains("CONFIG_SCHED_INFO", (string?)steal["help"]);
    }

    [Fact]
    public void A_vcpu_without_a_figure_is_left_out_and_the_others_are_counted()
    {
        JsonObject steal = Steal(new VmStatistics([[0, 0, 0, 0], [0, 0, 0, 0]], [], []) { VcpuSteal = [null, TimeSpan.FromSeconds(2)] });
        JsonNode sample = Assert.Single(steal["samples"]!.AsArray())!;
        Assert.Equal("1", (string?)sample["labels"]!["vcpu"]);
        Assert.Equal(2.0, (double)sample["value"]!);
        Assert.DoesNotContain("Not measured", (string?)steal["help"]);
    }
}
