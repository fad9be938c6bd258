// The control socket's flows op before it reads any table: its request is checked field by field,
// and with flow accounting off (flows.enabled false, the default) it is refused saying so. The
// daemon is not started: neither needs DPDK. The report itself is tested against a running
// vswitchd (tests/VSwitch.Tests.Integration/Flows).
using System.Collections.Immutable;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Daemon;
using VSwitch.Dataplane.Spec;
using Xunit;

namespace VSwitch.Tests.Unit.Daemon;

public sealed class FlowsOpTests
{
    private static async Task<string> RefusalOf(JsonObject request)
    {
        var daemon = new Vswitchd(new DaemonConfig { EalArgs = [], Spec = new SwitchSpec([], [], ImmutableArray<VmSpec>.Empty) }, offline: false);
        request["op"] = "flows";
        var refused = await Assert.ThrowsAsync<ControlException>(() => daemon.ControlHandler.HandleAsync("flows", request, TestContext.Current.CancellationToken).AsTask());
        return refused.Message;
    }

    [Fact]
    public async Task With_accounting_off_the_op_is_refused_naming_the_setting() =>
        Assert.Equal("flows: flow accounting is off (flows.enabled is false in the configuration)", await RefusalOf([]));

    [Theory]
    [InlineData("top", 0, "top: 0 is out of range (1..1000)")]
    [InlineData("top", 1001, "top: 1001 is out of range (1..1000)")]
    [InlineData("tenant", 5, "tenant: ")]
    public async Task A_bad_field_is_refused_before_anything_is_read(string field, int value, string expected) =>
        Assert.StartsWith(expected, await RefusalOf(new JsonObject { [field] = value }));
}
