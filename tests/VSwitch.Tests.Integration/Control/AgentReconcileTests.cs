// The agent keeping the real vswitchd running and programmed (docs/agent.md, "Reconcile"): the
// built vswitch-agent with --host-settings, and vswitchd started by its supervisor with the EAL
// settings every vswitchd of this suite runs with (VswitchdConfig: --no-huge, --no-pci, lcores
// 0 and 1, a file prefix of this run's own, the worker sleeping when idle). What vswitchd serves
// is read from vswitchd itself (its `list`), never from the agent. The scenario: a VM's NIC served
// live; vswitchd killed and restarted on the written file; the VM deleted live; the agent killed
// and its successor adopting vswitchd; an agent with changed settings restarting it. A VM's NIC is a vhost-user
// port in client mode, which vswitchd adds with nobody listening on the socket (it retries the
// connection by itself, docs/dataplane.md), so no VM runs here.
//
// Whatever happens, the test leaves no vswitchd behind: the agent is killed first (so nothing
// restarts vswitchd), then a supervisor on the agent's state directory adopts vswitchd by its
// recorded identity and stops it, and DPDK's runtime files for the prefix are removed.
using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Agent.Supervision;
using VSwitch.Control.Api;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;

namespace VSwitch.Tests.Integration.Control;

public sealed class AgentReconcileTests : IAsyncDisposable
{
    /// <summary>
    /// How long vswitchd may take to come up and be programmed: VswitchdProcess allows 200 s for a
    /// start on a loaded machine (about 2 s on a quiet one). Only a deadline: every wait polls.
    /// </summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(200);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    private readonly string _folder = Directory.CreateTempSubdirectory("vsw-rec-").FullName;
    private readonly string _prefix = $"vswrec{Environment.ProcessId}";
    private AgentProcess? _agent;

    private string Runtime => Path.Combine(_folder, "run");
    private string SocketPath => Path.Combine(_folder, "agent.sock");
    private string StatePath => Path.Combine(_folder, "agent.db");
    private string SettingsPath => Path.Combine(_folder, "host.json");
    private string ControlSocket => Path.Combine(Runtime, "vswitchd.sock");
    private string SupervisorDirectory => Path.Combine(Runtime, HostSettingsFile.DefaultSupervisorSubdirectory);
    private string LogDirectory => Path.Combine(Runtime, HostSettingsFile.DefaultLogSubdirectory);
    private string Kernel => Path.Combine(_folder, "bzImage");

    private AgentClient Api => _agent!.Client;

    /// <param name="idleSleepUs">workers.idle_sleep_us: a setting no control op changes, so changing it restarts vswitchd.</param>
    private async Task StartAgentAsync(int idleSleepUs = 200)
    {
        var settings = new JsonObject
        {
            ["runtime_dir"] = Runtime,
            ["vswitchd_binary"] = RepoPaths.Vswitchd(),
            ["vswitchd"] = new JsonObject
            {
                // As VswitchdConfig.ToJson gives every vswitchd of the suite.
                ["eal_args"] = new JsonArray("--no-huge", "-m", "512", "--no-pci", "-l", "0,1", "--file-prefix", _prefix),
                ["worker_cores"] = new JsonArray(1),
                ["idle_sleep_us"] = idleSleepUs,
            },
        };
        await File.WriteAllTextAsync(SettingsPath, settings.ToJsonString());
        _agent = await AgentProcess.StartAsync(SocketPath, StatePath, "--host-settings", SettingsPath);
    }

    /// <summary>vswitchd's `list`, or null while it cannot be reached.</summary>
    private async Task<JsonObject?> ListAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await using ControlClient client = await ControlClient.ConnectAsync(ControlSocket, deadline.Token);
            return await client.RequestAsync(new JsonObject { ["op"] = "list" }, deadline.Token);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }

    private static bool Holds(JsonObject list, string array, string name) =>
        list[array]!.AsArray().Any(item => (string?)item!["name"] == name);

    /// <summary>Polls <paramref name="probe"/> until it returns a value, failing after Patience with what <paramref name="state"/> last said.</summary>
    private async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, string what, Func<Task<string>> state) where T : class
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await probe() is { } value)
                return value;
            if (clock.Elapsed > Patience)
                throw new TimeoutException($"not within {Patience.TotalSeconds} s: {what}\nlast: {await state()}\nagent: {_agent?.Log}\nvswitchd log: {VswitchdLog()}");
            await Task.Delay(PollInterval, TestContext.Current.CancellationToken);
        }
    }

    private string VswitchdLog()
    {
        string path = Path.Combine(LogDirectory, VswitchdReconciler.ChildName + ".log");
        return File.Exists(path) ? string.Concat(File.ReadAllText(path).TakeLast(4000)) : "(none)";
    }

    private async Task<string> DescribeAsync() =>
        $"list {(await ListAsync())?.ToJsonString() ?? "(unreachable)"}; status {System.Text.Json.JsonSerializer.Serialize(await StatusAsync(), AgentJson.Options)}";

    private async Task<AgentStatus?> StatusAsync()
    {
        try
        {
            return await Api.GetAsync<AgentStatus>(Routes.Status);
        }
        catch (Exception e) when (e is HttpRequestException or AgentException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Waits until vswitchd's list holds (or lacks) the NIC's port and VM entry, and the agent reports convergence; returns the status.</summary>
    private async Task<AgentStatus> ServedAsync(string nic, bool present)
    {
        await EventuallyAsync(async () => await ListAsync() is { } list
                && Holds(list, "ports", nic) == present && Holds(list, "vms", nic) == present ? list : null,
            $"vswitchd {(present ? "holds" : "no longer holds")} port and VM {nic}", DescribeAsync);
        return await EventuallyAsync(async () => await StatusAsync() is { Vswitchd.Converged: true } status ? status : null,
            "the agent reports vswitchd converged", DescribeAsync);
    }

    private static SupervisedChild Vswitchd(AgentStatus status) => status.Children.Single(c => c.Name == VswitchdReconciler.ChildName);

    private Vm NewVm(string name, string mac, string ip) =>
        new(name, "blue", Vcpus: 1, MemoryMib: 64, Kernel, Nics: [new Nic(mac, [ip])]);

    [Fact]
    public async Task The_agent_keeps_vswitchd_running_and_serving_the_desired_state()
    {
        await File.WriteAllTextAsync(Kernel, "never booted: no VM is launched in this slice", TestContext.Current.CancellationToken);
        await StartAgentAsync();
        AgentStatus status = await EventuallyAsync(async () => await StatusAsync() is { Vswitchd.Converged: true } s ? s : null,
            "an empty vswitchd runs and is converged", DescribeAsync);
        Assert.Equal("running", Vswitchd(status).State);
        Assert.True(File.Exists(Path.Combine(Runtime, "vswitchd.yaml")));

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
            "the supervisor restarts vswitchd", DescribeAsync);
        Assert.NotEqual(firstPid, Vswitchd(status).Pid);
        status = await ServedAsync("web.nic0", present: true);
        int secondPid = Vswitchd(status).Pid!.Value;

        // Deleting the VM removes it from the running vswitchd.
        await Api.DeleteAsync(Routes.Vms, "web");
        await ServedAsync("web.nic0", present: false);

        // kill -9 the agent; the next one adopts the running vswitchd and still converges.
        await _agent!.KillAsync();
        await _agent.DisposeAsync();
        _agent = null;
        await StartAgentAsync();
        status = await EventuallyAsync(async () => await StatusAsync() is { Vswitchd.Converged: true } s ? s : null,
            "the restarted agent finds vswitchd converged", DescribeAsync);
        Assert.Equal((secondPid, 2, true), (Vswitchd(status).Pid!.Value, Vswitchd(status).StartCount, Vswitchd(status).Adopted));
        await Api.CreateAsync(Routes.Vms, NewVm("db", "02:00:00:00:00:02", "10.0.0.2"));
        status = await ServedAsync("db.nic0", present: true);
        Assert.Equal((secondPid, 2), (Vswitchd(status).Pid!.Value, Vswitchd(status).StartCount));

        // An agent with another host setting that no op changes restarts the adopted vswitchd on the new file.
        await _agent!.StopAsync();
        await _agent.DisposeAsync();
        _agent = null;
        await StartAgentAsync(idleSleepUs: 100);
        status = await EventuallyAsync(async () => await StatusAsync() is { } s && Vswitchd(s) is { State: "running", StartCount: 3 } ? s : null,
            "the agent restarts vswitchd for its changed settings", DescribeAsync);
        Assert.NotEqual(secondPid, Vswitchd(status).Pid);
        await ServedAsync("db.nic0", present: true);
        Assert.Contains("idle_sleep_us: 100", await File.ReadAllTextAsync(Path.Combine(Runtime, "vswitchd.yaml"), TestContext.Current.CancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        // The agent first, so that nothing restarts vswitchd; then vswitchd, found by the identity
        // the agent's supervisor recorded, adopted and stopped (SIGTERM, SIGKILL after 10 s).
        if (_agent is not null)
        {
            await _agent.KillAsync();
            await _agent.DisposeAsync();
        }
        if (Directory.Exists(SupervisorDirectory))
        {
            using ProcessSupervisor reaper = ProcessSupervisor.Start(new SupervisorOptions(SupervisorDirectory, LogDirectory), []);
            await reaper.StopAllAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        VswitchdProcess.CleanupRuntime(_prefix);
        Directory.Delete(_folder, recursive: true);
    }
}
