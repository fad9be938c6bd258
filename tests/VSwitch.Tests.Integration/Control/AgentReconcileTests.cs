// The agent keeping the real vswitchd running and programmed (docs/agent.md, "Reconcile"): the
// built vswitch-agent with --host-settings (Infrastructure/AgentHost), and vswitchd started by
// its supervisor. What vswitchd serves is read from vswitchd itself (its `list`), never from the
// agent. The scenarios: a VM's NIC served live; vswitchd killed and restarted on the written file;
// the VM deleted live; the agent killed and its successor adopting vswitchd; an agent with changed
// settings restarting it. And remote VMs (docs/agent.md, "RemoteVm"): programmed live with no
// restart of vswitchd (the same pid and start count throughout), leaving with their tenant's last
// VM here and coming back with the next, gone on delete; and on a host without an uplink stored
// but reported not programmed in /v1/status. A VM's NIC is a vhost-user port in client mode, which
// vswitchd adds with nobody listening on the socket (it retries the connection by itself,
// docs/dataplane.md), and no vmm_binary is given, so no VM runs here (Control/AgentGuestTests
// boots them).
//
// The uplink of the remote VMs' host is net_null (no-rx: it receives nothing, and what it sends
// is dropped): the lightest device vswitchd takes as an uplink, needing no file, interface or
// privilege. With it and a VTEP the plan has an overlay, which is all a remote VM needs in
// vswitchd; no frame crosses it here.
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
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Writes the kernel file VMs name (never booted: no vmm_binary) and starts the agent.</summary>
    /// <param name="idleSleepUs">workers.idle_sleep_us: a setting no control op changes, so changing it restarts vswitchd.</param>
    /// <param name="uplink">With an uplink and a VTEP, and so an overlay.</param>
    /// <param name="options">More of `vswitch-agent run`'s options.</param>
    private async Task StartAgentAsync(int idleSleepUs = 200, bool uplink = false, string[]? options = null, bool restartAlways = false)
    {
        await File.WriteAllTextAsync(Kernel, "never booted: no vmm_binary is given", Ct);
        JsonObject vswitchd = _host.Vswitchd(idleSleepUs);
        if (uplink)
            vswitchd["uplink"] = new JsonObject { ["devargs"] = "net_null0,no-rx=1", ["vtep"] = "192.168.50.1/24", ["mac"] = "02:aa:00:00:00:01" };
        await _host.StartAgentAsync(new JsonObject { ["vswitchd"] = vswitchd }, options, restartAlways);
    }

    private static bool Holds(JsonObject list, string array, string name) =>
        list[array]!.AsArray().Any(item => (string?)item!["name"] == name);

    private Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, string what) where T : class => _host.EventuallyAsync(probe, what);

    private Task<AgentStatus?> StatusAsync() => _host.StatusAsync();

    private Task<JsonObject?> ListAsync() => _host.ListAsync();

    /// <summary>Waits until vswitchd's list holds (or lacks) the NIC's port and VM entry, and the agent reports convergence; returns the status.</summary>
    private Task<AgentStatus> ServedAsync(string nic, bool present) =>
        ServedAsync(list => Holds(list, "ports", nic) == present && Holds(list, "vms", nic) == present,
            $"{(present ? "holds" : "no longer holds")} port and VM {nic}");

    /// <summary>Waits until vswitchd's list holds (or lacks) each remote VM, and the agent reports convergence; returns the status.</summary>
    private Task<AgentStatus> RemoteServedAsync(bool present, params string[] remoteVms) =>
        ServedAsync(list => remoteVms.All(vm => Holds(list, "remote_vms", vm) == present),
            $"{(present ? "holds" : "no longer holds")} remote VM(s) {string.Join(", ", remoteVms)}");

    private async Task<AgentStatus> ServedAsync(Func<JsonObject, bool> holds, string what)
    {
        await EventuallyAsync(async () => await ListAsync() is { } list && holds(list) ? list : null, $"vswitchd {what}");
        return await EventuallyAsync(async () => await StatusAsync() is { Vswitchd.Converged: true } status ? status : null,
            "the agent reports vswitchd converged");
    }

    private static SupervisedChild Vswitchd(AgentStatus status) => AgentHost.Child(status, HostReconciler.VswitchdChild)!;

    private Vm NewVm(string name, string mac, string ip) =>
        new(name, "blue", Vcpus: 1, MemoryMib: 64, Kernel, Nics: [new Nic(mac, [ip])]);

    [Fact]
    public async Task The_agent_keeps_vswitchd_running_and_serving_the_desired_state()
    {
        // As systemd runs it (deploy/systemd/vswitch-agent.service): started again whenever it ends.
        await StartAgentAsync(restartAlways: true);
        AgentStatus status = await EventuallyAsync(async () => await StatusAsync() is { Vswitchd.Converged: true } s ? s : null,
            "an empty vswitchd runs and is converged");
        Assert.Equal("running", Vswitchd(status).State);
        Assert.True(File.Exists(Path.Combine(_host.Runtime, "vswitchd.yaml")));

        // A tenant and a VM with one NIC: its port and VM entry appear live.
        await Api.CreateAsync(Routes.Tenants, new Tenant("blue", 100), Ct);
        await Api.CreateAsync(Routes.Vms, NewVm("web", "02:00:00:00:00:01", "10.0.0.1"), Ct);
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
        await Api.DeleteAsync(Routes.Vms, "web", Ct);
        await ServedAsync("web.nic0", present: false);

        // kill -9 the agent: its supervisor starts the next one, which adopts the running vswitchd
        // and still converges.
        int agentPid = _host.Agent!.Pid;
        using (Process victim = Process.GetProcessById(agentPid))
            victim.Kill();
        await EventuallyAsync(() => Task.FromResult(_host.Restarter!.Starts == 2 ? "" : null), "the agent's supervisor starts it again");
        Assert.NotEqual(agentPid, _host.Agent!.Pid);
        status = await EventuallyAsync(async () => await StatusAsync() is { Vswitchd.Converged: true } s ? s : null,
            "the restarted agent finds vswitchd converged");
        Assert.Equal((secondPid, 2, true), (Vswitchd(status).Pid!.Value, Vswitchd(status).StartCount, Vswitchd(status).Adopted));
        await Api.CreateAsync(Routes.Vms, NewVm("db", "02:00:00:00:00:02", "10.0.0.2"), Ct);
        status = await ServedAsync("db.nic0", present: true);
        Assert.Equal((secondPid, 2), (Vswitchd(status).Pid!.Value, Vswitchd(status).StartCount));

        // An agent with another host setting that no op changes restarts the adopted vswitchd on the new file.
        await _host.EndAgentAsync(kill: false);
        await StartAgentAsync(idleSleepUs: 100);
        status = await EventuallyAsync(async () => await StatusAsync() is { } s && Vswitchd(s) is { State: "running", StartCount: 3 } ? s : null,
            "the agent restarts vswitchd for its changed settings");
        Assert.NotEqual(secondPid, Vswitchd(status).Pid);
        await ServedAsync("db.nic0", present: true);
        Assert.Contains("idle_sleep_us: 100", await File.ReadAllTextAsync(Path.Combine(_host.Runtime, "vswitchd.yaml"), Ct));
    }

    /// <summary>
    /// A real Prometheus scrapes the agent's --metrics-listen (docs/agent.md, "Metrics") and reads
    /// vswitchd supervised, running and converged, and its restart after kill -9; that address
    /// serves nothing but /metrics. The VMs' own families come from running vmms: AgentGuestTests.
    /// </summary>
    [Fact]
    public async Task Prometheus_scrapes_the_agents_metrics_address_which_serves_nothing_else()
    {
        int port = PrometheusServer.FreePort();
        await StartAgentAsync(options: ["--metrics-listen", $"127.0.0.1:{port}"]);
        await Api.CreateAsync(Routes.Tenants, new Tenant("blue", 100));
        await Api.CreateAsync(Routes.Vms, NewVm("web", "02:00:00:00:00:01", "10.0.0.1"));
        AgentStatus status = await ServedAsync("web.nic0", present: true);
        await using PrometheusServer prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{port}", Ct);

        TimeSpan patience = TimeSpan.FromSeconds(60);
        await prometheus.WaitForAsync($"up{{job=\"{PrometheusServer.Job}\"}}", v => v == 1, patience, Ct);
        await prometheus.WaitForAsync("vswitch_agent_child_running{child=\"vswitchd\"}", v => v == 1, patience, Ct);
        await prometheus.WaitForAsync("vswitch_agent_converged{part=\"vswitchd\"}", v => v == 1, patience, Ct);
        await prometheus.WaitForAsync("vswitch_agent_child_starts_total{child=\"vswitchd\"}", v => v == 1, patience, Ct);

        using (Process victim = Process.GetProcessById(Vswitchd(status).Pid!.Value))
            victim.Kill();
        await prometheus.WaitForAsync("vswitch_agent_child_starts_total{child=\"vswitchd\"}", v => v == 2, patience, Ct);
        await prometheus.WaitForAsync("vswitch_agent_converged{part=\"vswitchd\"}", v => v == 1, patience, Ct);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        HttpResponseMessage metrics = await http.GetAsync($"http://127.0.0.1:{port}{Routes.Metrics}", Ct);
        Assert.Equal(("text/plain", System.Net.HttpStatusCode.OK), (metrics.Content.Headers.ContentType?.MediaType, metrics.StatusCode));
        foreach (string route in new[] { Routes.Vms, Routes.Status, Routes.OpenApi })
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync($"http://127.0.0.1:{port}{route}", Ct)).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound,
            (await http.PostAsync($"http://127.0.0.1:{port}{Routes.Tenants}", new StringContent("""{"name":"red","vni":7}""", System.Text.Encoding.UTF8, "application/json"), Ct)).StatusCode);
        Assert.Equal(["blue"], (await Api.GetAsync<List<Tenant>>(Routes.Tenants, Ct)).Select(t => t.Name));
        // The socket serves /metrics too, with its peer checks.
        Assert.Contains("vswitch_agent_child_running{child=\"vswitchd\"} 1\n", await Api.GetTextAsync(Routes.Metrics, Ct));
    }

    [Fact]
    public async Task A_remote_vm_is_programmed_live_follows_its_tenant_and_goes_on_delete()
    {
        await StartAgentAsync(uplink: true);
        // A remote host is part of the overlay: vswitchd restarts on it, once, before any remote VM.
        await Api.CreateAsync(Routes.Hosts, new RemoteHost("east", "192.168.50.2"), Ct);
        await EventuallyAsync(async () => await StatusAsync() is { Vswitchd.Converged: true } s && Vswitchd(s) is { State: "running", StartCount: 2 } ? s : null,
            "vswitchd restarted with the remote host in its overlay");
        await Api.CreateAsync(Routes.Tenants, new Tenant("blue", 100), Ct);
        await Api.CreateAsync(Routes.Vms, NewVm("web", "02:00:00:00:00:01", "10.0.0.1"), Ct);
        SupervisedChild before = Vswitchd(await ServedAsync("web.nic0", present: true));

        RemoteVm db = await Api.CreateAsync(Routes.RemoteVms, new RemoteVm("db", "blue", "east", "02:00:00:00:00:0D", ["10.0.0.13"]), Ct);
        Assert.Equal("02:00:00:00:00:0d", db.Mac);
        await RemoteServedAsync(present: true, "db");
        JsonNode remote = (await ListAsync())!["remote_vms"]!.AsArray().Single(v => (string?)v!["name"] == "db")!;
        Assert.Equal(("blue", "east", "02:00:00:00:00:0d", "10.0.0.13"),
            ((string?)remote["tenant"], (string?)remote["host"], (string?)remote["mac"], (string?)remote["ipv4"]![0]));

        // blue's last VM here goes: vswitchd drops blue, and db with it. The next one brings both back.
        await Api.DeleteAsync(Routes.Vms, "web", Ct);
        await ServedAsync("web.nic0", present: false);
        await RemoteServedAsync(present: false, "db");
        await Api.CreateAsync(Routes.Vms, NewVm("app", "02:00:00:00:00:02", "10.0.0.2"), Ct);
        await ServedAsync("app.nic0", present: true);
        await RemoteServedAsync(present: true, "db");

        await Api.DeleteAsync(Routes.RemoteVms, "db", Ct);
        SupervisedChild after = Vswitchd(await RemoteServedAsync(present: false, "db"));
        Assert.Equal((before.Pid, before.StartCount), (after.Pid, after.StartCount));
    }

    [Fact]
    public async Task A_host_without_an_uplink_stores_remote_vms_and_reports_them_not_programmed()
    {
        await StartAgentAsync();
        await Api.CreateAsync(Routes.Tenants, new Tenant("blue", 100), Ct);
        await Api.CreateAsync(Routes.Hosts, new RemoteHost("east", "192.168.50.2"), Ct);
        await Api.CreateAsync(Routes.Vms, NewVm("web", "02:00:00:00:00:01", "10.0.0.1"), Ct);
        await Api.CreateAsync(Routes.RemoteVms, new RemoteVm("db", "blue", "east", "02:00:00:00:00:0d", ["10.0.0.13"]), Ct);

        AgentStatus status = await EventuallyAsync(async () => await StatusAsync() is { Vswitchd.LastError: { } error } s
                && error.Contains("remote VM(s) not programmed (db)") ? s : null,
            "the agent reports db not programmed");
        Assert.False(status.Vswitchd!.Converged);
        Assert.Contains("no vswitchd.uplink", status.Vswitchd.LastError);
        JsonObject list = (await ListAsync())!;
        Assert.True(Holds(list, "vms", "web.nic0"));
        Assert.Empty(list["remote_vms"]!.AsArray());

        await Api.DeleteAsync(Routes.RemoteVms, "db", Ct);
        await ServedAsync("web.nic0", present: true);
    }

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
