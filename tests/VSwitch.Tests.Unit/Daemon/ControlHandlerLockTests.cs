// Reads over the control socket (status, counters, list) against a change in progress: they
// read port ids and call rte_eth_stats_get, so they must wait while remove-port stops and
// detaches a port. The daemon is not started: no DPDK is needed to see who waits for the lock.
using System.Collections.Immutable;
using System.Text.Json.Nodes;
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Daemon;
using VSwitch.Dataplane.Spec;
using Xunit;

namespace VSwitch.Tests.Unit.Daemon;

public sealed class ControlHandlerLockTests
{
    [Theory]
    [InlineData("status")]
    [InlineData("counters")]
    [InlineData("list")]
    public async Task Reads_wait_for_a_change_in_progress(string op)
    {
        var daemon = new Vswitchd(new DaemonConfig { EalArgs = [], Spec = new SwitchSpec([], [], ImmutableArray<VmSpec>.Empty) }, offline: false);
        CancellationToken ct = TestContext.Current.CancellationToken;
        await daemon.ChangesLock.WaitAsync(ct); // a remove-port stopping its port

        Task<JsonObject> read = daemon.ControlHandler.HandleAsync(op, new JsonObject { ["op"] = op }, ct).AsTask();
        await Task.Delay(200, ct);
        Assert.False(read.IsCompleted, $"{op} answered while a change held the lock");

        daemon.ChangesLock.Release();
        JsonObject reply = await read.WaitAsync(TimeSpan.FromSeconds(5), ct);
        Assert.NotNull(reply);
    }
}
