// The agent keeping the real vswitchd running and programmed (docs/agent.md, "Reconcile"): the
// built vswitch-agent with --host-settings (Infrastructure/AgentHost), and vswitchd started by
// its supervisor. What vswitchd serves is read from vswitchd itself (its `list`), never from the
// agent. The scenario: a VM's NIC served live; vswitchd killed and restarted on the written file;
// the VM deleted live; the agent killed and its successor adopting vswitchd; an agent with changed
// settings restarting it. A VM's NIC is a vhost-user port in client mode, which vswitchd adds with
// nobody listening on the socket (it retries the connection by itself, docs/dataplane.md), and
// no vmm_binary is given, so no VM runs here (Control/AgentGuestTests boots them).
using System.Diagnostics;
using System.Text.Json.Nodes;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Api;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;

namespace VSwitch.Tests.Integration.Control;

public sealed class AgentReconcileTests : IAsyncDisposable
{
    private readonly AgentHost _host = new("rec");

    private string Kernel => Path.Combine(_host.Folder, "bzImage");
    private AgentClient Api => _host.Api;

    /// <param name="idleSleepUs">workers.idle_sleep_us: a setting no control op changes, so changing it restarts vswitchd.</param>
    private Task StartAgentAsync(int idleSleepUs = 200) =>
        _host.StartAgentAsync(new JsonObject { ["vswitchd"] = _host.Vswitchd(idleSleepUs) });

    private static bool Holds(JsonObject list, string array, string name) =>
        list[array]!.AsArray().Any(item => (string?)item!["name"] == name);

    private Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, string what) where T : class => _host.EventuallyAsync(probe, what);

    private Task<AgentStatus?> StatusAsync() => _host.StatusAsync();

    private Task<JsonObject?> ListAsync() => _host.ListAsync();

    /// <summary>Waits until vswitchd's list holds (or lacks) the NIC's port and VM entry, and the agent reports convergence; returns the status.</summary>
    private async Task<AgentStatus> ServedAsync(string nic, bool present)
    {
        await EventuallyAsync(async () => await ListAsync() is { } list
                && Holds(list, "ports", nic) == present && Holds(list, "vms", nic) == present ? list : null,
            $"vswitchd {(present ? "holds" : "no longer holds")} port and VM {nic}");
        return await EventuallyAsync(async () => await StatusAsync() is { Vswitchd.Converged: true } status ? status : null,
            "the agent reports vswitchd converged");
    }

    private static SupervisedChild Vswitchd(AgentStatus status) => AgentHost.Child(status, HostReconciler.VswitchdChild)!;

    private Vm NewVm(string name, string mac, string ip) =>
        new(name, "blue", Vcpus: 1, MemoryMib: 64, Kernel, Nics: [new Nic(mac, [ip])]);

    [Fact]
    public async Task The_agent_keeps_vswitchd_running_and_serving_the_desired_state()
    {
        await File.WriteAllTextAsync(Kernel, "never booted: no VM is launched in this slice", TestContext.Current.CancellationToken);
        await StartAgentAsync();
        AgentStatus status = await EventuallyAsync(async () => await StatusAsync() is { Vswitchd.Converged: true } s ? s : null,
            "an empty vswitchd runs and is converged");
        Assert.Equal("running", Vswitchd(status).State);
        Assert.True(File.Exists(Path.Combine(_host.Runtime, "vswitchd.yaml")));

        // A tenant and a VM with one NIC: its port and VM entry appear live.
        await Api.CreateAsync(Routes.Tenants, new Tenant("blue", 100));
        await Api.CreateAsync(Routes.Vms, NewVm("web", "02:00:00:00:00:01", "10.0.0.1"));
        status = await ServedAsync("web.nic0", present: true);
        int firstPid = Vswitchd(status).Pid!.Value;
        Assert.Equal(1, Vswitchd(status).StartCount);
        JsonObject list = (await ListAsync())!;
        JsonNode vm = list["vms"]!.AsArray().Single(v => (string?)v!["name"] == "web.nic0")!;
        Assert.Equal(("blue", "web.nic0", "02:00:00:00:00:01"), ((string?)vm["tenant"], (string?)vm["port"], (string?)vm["mac"]));

        // kill -9 vswitchd: the supervisor starts it again, and it serves the VM from the written file.
        using (Process victim = Process.GetProcessById(firstPid))
            victim.Kill();
        status = await EventuallyAsync(async () => await StatusAsync() is { } s && Vswitchd(s) is { State: "running", StartCount: 2 } ? s : null,
            "the supervisor restarts vswitchd");
        Assert.NotEqual(firstPid, Vswitchd(status).Pid);
        status = await ServedAsync("web.nic0", present: true);
        int secondPid = Vswitchd(status).Pid!.Value;

        // Deleting the VM removes it from the running vswitchd.
        await Api.DeleteAsync(Routes.Vms, "web");
        await ServedAsync("web.nic0", present: false);

        // kill -9 the agent; the next one adopts the running vswitchd and still converges.
        await _host.EndAgentAsync(kill: true);
        await StartAgentAsync();
        status = await EventuallyAsync(async () => await StatusAsync() is { Vswitchd.Converged: true } s ? s : null,
            "the restarted agent finds vswitchd converged");
        Assert.Equal((secondPid, 2, true), (Vswitchd(status).Pid!.Value, Vswitchd(status).StartCount, Vswitchd(status).Adopted));
        await Api.CreateAsync(Routes.Vms, NewVm("db", "02:00:00:00:00:02", "10.0.0.2"));
        status = await ServedAsync("db.nic0", present: true);
        Assert.Equal((secondPid, 2), (Vswitchd(status).Pid!.Value, Vswitchd(status).StartCount));

        // An agent with another host setting that no op changes restarts the adopted vswitchd on the new file.
        await _host.EndAgentAsync(kill: false);
        await StartAgentAsync(idleSleepUs: 100);
        status = await EventuallyAsync(async () => await StatusAsync() is { } s && Vswitchd(s) is { State: "running", StartCount: 3 } ? s : null,
            "the agent restarts vswitchd for its changed settings");
        Assert.NotEqual(secondPid, Vswitchd(status).Pid);
        await ServedAsync("db.nic0", present: true);
        Assert.Contains("idle_sleep_us: 100", await File.ReadAllTextAsync(Path.Combine(_host.Runtime, "vswitchd.yaml"), TestContext.Current.CancellationToken));
    }

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
