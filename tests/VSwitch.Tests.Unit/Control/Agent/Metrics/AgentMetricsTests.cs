// The agent's /metrics (Metrics/AgentMetrics.cs, PrometheusText.cs): each running vmm's families
// (from fake vmm APIs, FakeVmms) merged into one family per name with the VM as the first label,
// a vmm that does not answer marked down, what a vmm sends checked, and the agent's own view.
// Prometheus itself parses the result in the integration tests (AgentReconcileTests).
using System.Text.Json.Nodes;
using VSwitch.Control.Agent.Metrics;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Api;
using VSwitch.Tests.Unit.Control.Agent.Reconcile;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Metrics;

public sealed class AgentMetricsTests : IAsyncDisposable
{
    private readonly FakeVmms _vmms = new();

    private static JsonArray RunTime(double seconds) => JsonNode.Parse($$"""
        [{"name":"vmm_vcpu_run_seconds_total","type":"counter","help":"Time the vCPU's thread spent in KVM_RUN.",
          "samples":[{"labels":{"vcpu":"0"},"value":{{seconds}}}]}]
        """)!.AsArray();

    private static SupervisedChild Running(string name) => new(name, "running", 100, 1, false);

    [Fact]
    public async Task Each_running_vmms_families_are_one_family_per_name_labelled_with_their_vm()
    {
        _vmms.Serve("web", "running", RunTime(1.5));
        _vmms.Serve("db", "paused", RunTime(0.25));
        var status = new AgentStatus(
            [Running("vmm-db"), new SupervisedChild("vmm-old", "stopping", 7, 1, false), Running("vmm-web"), new SupervisedChild("vswitchd", "backing_off", null, 3, true)],
            new VswitchdConvergence(false, "restarting", null, "/run/vswitchd.yaml"),
            new VmsConvergence(true, [], new Dictionary<string, string> { ["db"] = "paused", ["web"] = "running" }));

        string text = await AgentMetrics.ScrapeAsync(status, _vmms.Paths, TestContext.Current.CancellationToken);

        Assert.Equal("""
            # HELP vswitch_agent_vmm_up 1 when the VM's running vmm answered this scrape's metrics request, 0 when it did not (its vmm_ families are missing then).
            # TYPE vswitch_agent_vmm_up gauge
            vswitch_agent_vmm_up{vm="db"} 1
            vswitch_agent_vmm_up{vm="web"} 1
            # HELP vmm_vcpu_run_seconds_total Time the vCPU's thread spent in KVM_RUN.
            # TYPE vmm_vcpu_run_seconds_total counter
            vmm_vcpu_run_seconds_total{vm="db",vcpu="0"} 0.25
            vmm_vcpu_run_seconds_total{vm="web",vcpu="0"} 1.5
            # HELP vswitch_agent_vm_power 1 for what each VM is doing as its vmm said at the agent's last pass (docs/agent.md, "Power").
            # TYPE vswitch_agent_vm_power gauge
            vswitch_agent_vm_power{vm="db",state="paused"} 1
            vswitch_agent_vm_power{vm="web",state="running"} 1
            # HELP vswitch_agent_child_starts_total Starts of each supervised process (vswitchd, vmm-NAME), earlier agents' included once adopted.
            # TYPE vswitch_agent_child_starts_total counter
            vswitch_agent_child_starts_total{child="vmm-db"} 1
            vswitch_agent_child_starts_total{child="vmm-old"} 1
            vswitch_agent_child_starts_total{child="vmm-web"} 1
            vswitch_agent_child_starts_total{child="vswitchd"} 3
            # HELP vswitch_agent_child_running 1 while the supervised process runs, 0 while it is stopping or waits to be restarted.
            # TYPE vswitch_agent_child_running gauge
            vswitch_agent_child_running{child="vmm-db"} 1
            vswitch_agent_child_running{child="vmm-old"} 0
            vswitch_agent_child_running{child="vmm-web"} 1
            vswitch_agent_child_running{child="vswitchd"} 0
            # HELP vswitch_agent_converged 1 when that part of the host matched the desired state at the agent's last pass (docs/agent.md, "GET /v1/status").
            # TYPE vswitch_agent_converged gauge
            vswitch_agent_converged{part="vswitchd"} 0
            vswitch_agent_converged{part="vms"} 1

            """, text);
    }

    [Fact]
    public async Task A_vmm_that_does_not_answer_is_down_and_what_a_vmm_sends_is_checked_before_it_is_exported()
    {
        // A guest controls none of this, but a vmm is still not the agent's to trust blindly.
        _vmms.Serve("odd", "running", JsonNode.Parse("""
            [{"name":"vmm_x_total","help":"a \"quoted\\ help\nsplit","samples":[{"labels":{"disk":"a\"b\\c\nd","vm":"forged","bad-name":"x"},"value":3}]},
             {"name":"9bad","samples":[{"labels":{},"value":1}]},
             {"name":"vmm_y_total","samples":[{"labels":{},"value":"many"}, {"labels":{},"value":2}]},
             42]
            """)!.AsArray());
        var status = new AgentStatus([Running("vmm-odd"), Running("vmm-gone")], null);

        string text = await AgentMetrics.ScrapeAsync(status, _vmms.Paths, TestContext.Current.CancellationToken);

        Assert.Contains("vswitch_agent_vmm_up{vm=\"gone\"} 0\n", text);
        Assert.Contains("vswitch_agent_vmm_up{vm=\"odd\"} 1\n", text);
        Assert.Contains("# HELP vmm_x_total a \"quoted\\\\ help\\nsplit\n# TYPE vmm_x_total counter\n", text);
        // The VM is the agent's to say, the label names Prometheus's to accept, the values escaped.
        Assert.Contains("vmm_x_total{vm=\"odd\",disk=\"a\\\"b\\\\c\\nd\"} 3\n", text);
        Assert.DoesNotContain("9bad", text);
        Assert.Contains("# TYPE vmm_y_total counter\nvmm_y_total{vm=\"odd\"} 2\n", text);
    }

    public ValueTask DisposeAsync() => _vmms.DisposeAsync();
}
