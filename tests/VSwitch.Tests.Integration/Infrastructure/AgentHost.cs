// One host run by the built vswitch-agent with --host-settings, for the tests that watch the agent
// keep its daemons in line (Control/AgentReconcileTests, Control/AgentGuestTests): a folder with
// the agent's socket, state and runtime directory, vswitchd with the EAL settings every vswitchd
// of this suite runs with (VswitchdConfig: --no-huge, --no-pci, a file prefix of this run's own),
// and what the tests read back: vswitchd's own `list`, the agent's /v1/status, a child's log.
//
// Whatever happens, it leaves no daemon behind: the agent is killed first (so nothing restarts
// its children), then a supervisor on the agent's state directory adopts every child by its
// recorded identity and stops it, and DPDK's runtime files for the prefix are removed.
using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Agent.Supervision;
using VSwitch.Control.Api;
using Xunit;

namespace VSwitch.Tests.Integration.Infrastructure;

public sealed class AgentHost(string name) : IAsyncDisposable
{
    /// <summary>
    /// How long vswitchd may take to come up and be programmed: VswitchdProcess allows 200 s for a
    /// start on a loaded machine (about 2 s on a quiet one). Only a deadline: every wait polls.
    /// </summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(200);
    /// <summary>Each probe costs the one emulated CPU of the KVM sandbox a status request or a file read, which its guests need more.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    private readonly string _prefix = $"vsw{name}{Environment.ProcessId}";

    public string Folder { get; } = Directory.CreateTempSubdirectory($"vsw-{name}-").FullName;
    public string Runtime => Path.Combine(Folder, "run");
    public string SocketPath => Path.Combine(Folder, "agent.sock");
    public string StatePath => Path.Combine(Folder, "agent.db");
    public string SettingsPath => Path.Combine(Folder, "host.json");
    public string ControlSocket => Path.Combine(Runtime, "vswitchd.sock");
    public string SupervisorDirectory => Path.Combine(Runtime, HostSettingsFile.DefaultSupervisorSubdirectory);
    public string LogDirectory => Path.Combine(Runtime, HostSettingsFile.DefaultLogSubdirectory);

    private AgentProcess? _agent;
    private AgentRestarter? _restarter;

    /// <summary>The agent now: the one StartAgentAsync started, or the restarter's current run.</summary>
    public AgentProcess? Agent => _restarter?.Current ?? _agent;

    /// <summary>The restart-always supervisor the agent runs under, if StartAgentAsync was asked for one.</summary>
    public AgentRestarter? Restarter => _restarter;
    public AgentClient Api => Agent!.Client;

    /// <summary>The host settings file's vswitchd object, as VswitchdConfig.ToJson gives every vswitchd of the suite.</summary>
    /// <param name="cores">The lcores: "0,1" with the worker on 1, or "0" with the worker on 0 (the one-CPU sandbox).</param>
    /// <param name="idleSleepUs">
    /// The worker's sleep when a loop found nothing: by default 200 µs beside a core of its own,
    /// 1 ms on the sandbox's one CPU, whose guests it shares: each wake-up is a timer and a
    /// syscall under TCG, and at 200 µs the idle worker took 17-22 % of that CPU (top, 2026-12-08).
    /// </param>
    public JsonObject Vswitchd(int? idleSleepUs = null, string cores = "0,1") => new()
    {
        ["eal_args"] = new JsonArray("--no-huge", "-m", "512", "--no-pci", "-l", cores, "--file-prefix", _prefix),
        ["worker_cores"] = new JsonArray(int.Parse(cores.Split(',')[^1])),
        ["idle_sleep_us"] = idleSleepUs ?? (cores.Contains(',') ? 200 : 1000),
    };

    /// <summary>Writes the host settings (runtime_dir and vswitchd_binary filled in, the rest from <paramref name="settings"/>) and starts the agent on them.</summary>
    /// <param name="options">More of `vswitch-agent run`'s options.</param>
    /// <param name="restartAlways">Under an AgentRestarter, as systemd runs it: started again a second after it ends.</param>
    public async Task StartAgentAsync(JsonObject settings, string[]? options = null, bool restartAlways = false)
    {
        // A vmm left by an earlier test would take the one emulated CPU of the KVM sandbox from
        // this test's guests: say so here rather than as a boot that never ends.
        string[] strays = [.. Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(pid => pid!.All(char.IsAsciiDigit))
            .Where(pid => ReadOrEmpty($"/proc/{pid}/comm").Trim() == "vmm" && !ReadOrEmpty($"/proc/{pid}/cmdline").Contains(Folder, StringComparison.Ordinal))
            .Select(pid => $"{pid}: {ReadOrEmpty($"/proc/{pid}/cmdline").Replace('\0', ' ')}")];
        Assert.True(strays.Length == 0, $"vmm processes of another test still run: {string.Join("; ", strays)}");
        settings["runtime_dir"] = Runtime;
        settings["vswitchd_binary"] = RepoPaths.Vswitchd();
        await File.WriteAllTextAsync(SettingsPath, settings.ToJsonString());
        string[] arguments = ["--host-settings", SettingsPath, .. options ?? []];
        if (restartAlways)
            _restarter = await AgentRestarter.StartAsync(SocketPath, StatePath, arguments);
        else
            _agent = await AgentProcess.StartAsync(SocketPath, StatePath, arguments);
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Ends the agent (SIGKILL, or SIGTERM when <paramref name="kill"/> is false) and forgets it; its children run on.</summary>
    public async Task EndAgentAsync(bool kill)
    {
        if (_restarter is not null)
        {
            if (kill)
                await _restarter.Current.KillAsync();
            await _restarter.DisposeAsync();
            _restarter = null;
            return;
        }
        if (kill)
            await _agent!.KillAsync();
        else
            await _agent!.StopAsync();
        await _agent.DisposeAsync();
        _agent = null;
    }

    /// <summary>vswitchd's `list` (or another op that takes no fields), or null while it cannot be reached.</summary>
    public async Task<JsonObject?> ListAsync(string op = "list")
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await using ControlClient client = await ControlClient.ConnectAsync(ControlSocket, deadline.Token);
            return await client.RequestAsync(new JsonObject { ["op"] = op }, deadline.Token);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>The agent's /v1/status, or null while it does not answer.</summary>
    public async Task<AgentStatus?> StatusAsync()
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

    /// <summary>Exited: no such process, or a zombie its parent (init, after the agent that started it was killed) has not reaped yet.</summary>
    public static bool Gone(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>VM <paramref name="vm"/>'s power state as its own vmm answers on its API socket (docs/vmm.md, "API"), not as the agent reports it.</summary>
    public async Task<string?> VmmStateAsync(string vm)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await using ControlClient client = await ControlClient.ConnectAsync(new HostSettings(Runtime).Paths.ApiSocket(vm), deadline.Token);
        return (string?)(await client.RequestAsync(new JsonObject { ["op"] = "state" }, deadline.Token))["state"];
    }

    /// <summary>The supervised child <paramref name="child"/> in <paramref name="status"/>, or null when it is not there.</summary>
    public static SupervisedChild? Child(AgentStatus status, string child) => status.Children.SingleOrDefault(c => c.Name == child);

    /// <summary>The vmm the agent starts: the published one the KVM lane names (VSWITCH_VMM), else the apphost built beside these tests.</summary>
    public static string VmmBinary => Environment.GetEnvironmentVariable("VSWITCH_VMM") is { Length: > 0 } published
        ? published
        : Path.Combine(AppContext.BaseDirectory, "vmm");

    /// <summary>VM <paramref name="vm"/>'s vmm log: its stderr and the guest's serial console.</summary>
    public string VmmLog(string vm) => Path.Combine(LogDirectory, VmmChildren.ChildName(vm) + ".log");

    /// <summary>The last 4000 characters of a supervised child's log (its stdout and stderr).</summary>
    public string ChildLog(string child)
    {
        string path = Path.Combine(LogDirectory, child + ".log");
        return File.Exists(path) ? string.Concat(File.ReadAllText(path).TakeLast(4000)) : "(none)";
    }

    /// <summary>Polls <paramref name="probe"/> until it returns a value, failing after <paramref name="patience"/> (default Patience) with what the host looks like.</summary>
    public async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, string what, TimeSpan? patience = null, params string[] logs) where T : class
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await probe() is { } value)
                return value;
            if (clock.Elapsed > (patience ?? Patience))
                throw new TimeoutException($"not within {(patience ?? Patience).TotalSeconds} s: {what}\n{await DescribeAsync(logs)}");
            await Task.Delay(PollInterval, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>What the host looks like, for a failure's message: vswitchd's list and counters (its drops by reason among them), the agent's status and log, and the logs of vswitchd and of <paramref name="logs"/>.</summary>
    public async Task<string> DescribeAsync(params string[] logs) =>
        $"last: list {(await ListAsync())?.ToJsonString() ?? "(unreachable)"}; counters {(await ListAsync("counters"))?.ToJsonString() ?? "(unreachable)"}; " +
        $"status {JsonSerializer.Serialize(await StatusAsync(), AgentJson.Options)}\nagent: {Agent?.Log}\n" +
        string.Join('\n', logs.Prepend(HostReconciler.VswitchdChild).Select(log => $"{log} log: {ChildLog(log)}"));

    public async ValueTask DisposeAsync()
    {
        if (Agent is not null)
            await EndAgentAsync(kill: true);
        if (Directory.Exists(SupervisorDirectory))
        {
            // A vmm's SIGTERM presses its guest's power button; the guests here power off on it, and
            // vmm stops one that does not 30 s later, well inside its own 45 s stop timeout.
            using ProcessSupervisor reaper = ProcessSupervisor.Start(new SupervisorOptions(SupervisorDirectory, LogDirectory), []);
            await reaper.StopAllAsync().WaitAsync(VmmChildren.StopTimeout + TimeSpan.FromSeconds(15));
        }
        VswitchdProcess.CleanupRuntime(_prefix);
        Directory.Delete(Folder, recursive: true);
    }
}
