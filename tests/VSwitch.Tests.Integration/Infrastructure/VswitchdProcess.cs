// vswitchd as a test peer; every test that runs vswitchd runs it through this class. It starts
// the built binary on a config file and collects stdout and stderr: failure messages carry the
// tail of each, and CONFIG.log beside the config gets the whole. It waits until vswitchd is
// ready, sends requests on its control socket through the product's ControlClient, and stops it
// with SIGTERM or {"op":"shutdown"}. On its way out vswitchd prints its counters as JSON on
// stdout (the object {"op":"counters"} returns), and StopAsync returns them. Whatever happens,
// DisposeAsync leaves neither the process nor DPDK's runtime files for the --file-prefix behind.
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;

namespace VSwitch.Tests.Integration.Infrastructure;

/// <summary>What VswitchdProcess.StartAsync waits for before it returns.</summary>
public enum VswitchdReady
{
    /// <summary>Nothing beyond the process start (an offline run is then awaited with WaitForStateAsync).</summary>
    Started,
    /// <summary>The log line that says the workers poll.</summary>
    WorkersPolling,
    /// <summary>The control socket accepts a connection.</summary>
    ControlSocket,
}

public enum VswitchdStop
{
    /// <summary>
    /// SIGTERM, a service manager's stop signal. Not SIGINT: a shell that starts the suite in the
    /// background starts it with SIGINT ignored, every child inherits that, and .NET then leaves
    /// SIGINT ignored as POSIX asks, so vswitchd would never see it.
    /// </summary>
    Sigterm,
    /// <summary>{"op":"shutdown"} on the control socket.</summary>
    ShutdownRequest,
}

public sealed class VswitchdProcess : IAsyncDisposable
{
    /// <summary>The time limit of one control request where the caller sets none of its own.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    /// <summary>
    /// How long vswitchd may take to start (EAL, ports, workers, then the control socket). On the
    /// host it takes about 2 s; in the KVM lane's one-vCPU TCG sandbox, where .NET's JIT and DPDK's
    /// EAL run on an emulated CPU, 31.6, 52.8, 55.6 and 64.9 s were measured on 2026-12-04 with the
    /// host's load average around 20 (about 30 s on a quiet host, 2026-12-03), and the former 30 s
    /// limit failed the kernel GENEVE test. Three times the slowest start measured; waiting longer
    /// costs nothing when vswitchd is up, and a vswitchd that exits is reported at once.
    /// </summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(200);
    /// <summary>How long DisposeAsync gives a vswitchd that still runs after SIGTERM before it kills it.</summary>
    private static readonly TimeSpan DisposeGrace = TimeSpan.FromSeconds(15);
    /// <summary>Characters of stdout and of stderr in a failure message: the end of each, where the error is.</summary>
    private const int LogTail = 8000;
    private const string WorkersMarker = "worker(s) on core(s)";

    private readonly BackgroundProcess _process;
    private ControlClient? _control;
    private bool _stopped;

    public string ConfigPath { get; }
    public string FilePrefix { get; }
    public string? ControlSocket { get; }
    /// <summary>The command line, the exit status and the tails of stdout and stderr, for failure messages.</summary>
    public string Log => _process.Describe(LogTail);

    private VswitchdProcess(string configPath, string filePrefix, string? controlSocket, BackgroundProcess process)
    {
        ConfigPath = configPath;
        FilePrefix = filePrefix;
        ControlSocket = controlSocket;
        _process = process;
    }

    /// <summary>Writes <paramref name="config"/> as JSON to <paramref name="configPath"/> and starts vswitchd on it.</summary>
    public static async Task<VswitchdProcess> StartAsync(VswitchdConfig config, string configPath, VswitchdReady ready)
    {
        await File.WriteAllTextAsync(configPath, config.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return await StartAsync(configPath, config.FilePrefix, config.ControlSocket, ready);
    }

    /// <summary>
    /// Starts vswitchd on a config file the caller wrote, which must name <paramref name="filePrefix"/>
    /// and <paramref name="controlSocket"/>, and waits until it is <paramref name="ready"/>.
    /// </summary>
    /// <param name="ns">Run it inside this network namespace (`ip netns exec`, which execs in place: the pid is vswitchd's); null: this one.</param>
    public static async Task<VswitchdProcess> StartAsync(string configPath, string filePrefix, string? controlSocket, VswitchdReady ready,
        bool offline = false, string? workingDirectory = null, NetworkNamespace? ns = null)
    {
        string binary = RepoPaths.Vswitchd();
        CleanupRuntime(filePrefix);
        string[] args = offline ? ["run", "--config", configPath, "--offline"] : ["run", "--config", configPath];
        BackgroundProcess process = ns is null
            ? BackgroundProcess.Start("vswitchd", binary, args, workingDirectory: workingDirectory)
            : BackgroundProcess.Start($"vswitchd@{ns.Name}", "ip", ["netns", "exec", ns.Name, binary, .. args], workingDirectory: workingDirectory);
        var vswitchd = new VswitchdProcess(configPath, filePrefix, controlSocket, process);
        try
        {
            if (ready == VswitchdReady.WorkersPolling)
                await process.WaitForLineAsync(line => line.Contains(WorkersMarker, StringComparison.Ordinal), StartTimeout, $"'{WorkersMarker}' (workers started)");
            else if (ready == VswitchdReady.ControlSocket)
                await ConnectAsync(vswitchd);
        }
        catch
        {
            await vswitchd.DisposeAsync();
            throw;
        }
        return vswitchd;
    }

    private static async Task ConnectAsync(VswitchdProcess vswitchd)
    {
        string socket = vswitchd.ControlSocket ?? throw new InvalidOperationException($"{vswitchd.ConfigPath} names no control socket to wait for");
        var clock = Stopwatch.StartNew();
        while (vswitchd._control is null)
        {
            if (vswitchd._process.HasExited)
                throw new InvalidOperationException($"vswitchd exited before its control socket {socket} came up\n{vswitchd.Log}");
            if (clock.Elapsed > StartTimeout)
                throw new TimeoutException($"vswitchd's control socket {socket} did not come up within {StartTimeout.TotalSeconds} s\n{vswitchd.Log}");
            try
            {
                vswitchd._control = await ControlClient.ConnectAsync(socket);
                TestOutput.Write($"vswitchd's control socket {socket} came up {clock.Elapsed.TotalSeconds:F1} s after its start");
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>
    /// Polls {"op":"status"} until its "state" is <paramref name="state"/>. A control socket that is
    /// not up yet or does not answer is polled again; vswitchd exiting, a refused request or the
    /// time running out fail, naming the last state seen.
    /// </summary>
    public async Task WaitForStateAsync(string state, TimeSpan timeout, CancellationToken ct)
    {
        string socket = ControlSocket ?? throw new InvalidOperationException($"{ConfigPath} names no control socket to ask for the state");
        string lastState = "(no answer yet)";
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"vswitchd exited before it reported '{state}' (last state: {lastState})\n{Log}");
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"vswitchd did not report '{state}' within {timeout.TotalSeconds} s (last state: {lastState})\n{Log}");
            if (File.Exists(socket))
            {
                try
                {
                    JsonObject status = await RequestAsync(new JsonObject { ["op"] = "status" }, RequestTimeout, ct);
                    lastState = status["state"]?.GetValue<string>() ?? $"(no state in {status.ToJsonString()})";
                    if (lastState == state)
                        return;
                }
                catch (Exception e) when (e is SocketException or IOException or TimeoutException)
                {
                    lastState = $"(socket: {e.GetType().Name}: {e.Message})";
                }
            }
            await Task.Delay(100, ct);
        }
    }

    /// <summary>Sends a request and returns the reply; throws ControlRequestFailedException unless it has "ok": true.</summary>
    /// <param name="timeout">Beyond it the request fails with TimeoutException; null: no limit but <paramref name="ct"/>.</param>
    public Task<JsonObject> RequestAsync(JsonObject request, TimeSpan? timeout = null, CancellationToken ct = default) =>
        SendAsync(request, requireOk: true, timeout, ct);

    /// <summary>Sends {"op": op, ...fields} and returns the reply; throws unless it has "ok": true.</summary>
    public Task<JsonObject> OpAsync(string op, JsonObject? fields = null, CancellationToken ct = default)
    {
        var request = fields ?? new JsonObject();
        request["op"] = op;
        return RequestAsync(request, ct: ct);
    }

    /// <summary>
    /// Polls "counters" until worker 0 has handled at least <paramref name="packets"/> frames and
    /// published its allocation count; fails the caller after <paramref name="timeout"/>.
    /// </summary>
    public async Task<JsonObject> CountersAfterAsync(ulong packets, TimeSpan timeout, CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            JsonObject counters = await OpAsync("counters", ct: ct);
            if ((ulong)counters["workers"]![0]!["packets"]! >= packets && (long)counters["workers"]![0]!["allocated_bytes"]! >= 0)
                return counters;
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"fewer than {packets} packets after {timeout.TotalSeconds} s: {counters.ToJsonString()}");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>Sends a request and returns the reply, whatever its "ok".</summary>
    public Task<JsonObject> RequestRawAsync(JsonObject request, TimeSpan? timeout = null, CancellationToken ct = default) =>
        SendAsync(request, requireOk: false, timeout, ct);

    private async Task<JsonObject> SendAsync(JsonObject request, bool requireOk, TimeSpan? timeout, CancellationToken ct)
    {
        string socket = ControlSocket ?? throw new InvalidOperationException($"{ConfigPath} names no control socket");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (timeout is { } limit)
            deadline.CancelAfter(limit);
        try
        {
            _control ??= await ControlClient.ConnectAsync(socket, deadline.Token);
            return requireOk
                ? await _control.RequestAsync(request, deadline.Token)
                : await _control.RequestRawAsync(request, deadline.Token);
        }
        catch (Exception e) when (e is not ControlRequestFailedException)
        {
            // An interrupted exchange leaves the connection out of step (ControlClient): the next request connects again.
            await DropConnectionAsync();
            if (e is OperationCanceledException && !ct.IsCancellationRequested)
                throw new TimeoutException($"vswitchd did not answer {request.ToJsonString()} on {socket} within {timeout?.TotalSeconds} s", e);
            throw;
        }
    }

    private async Task DropConnectionAsync()
    {
        if (_control is null)
            return;
        await _control.DisposeAsync();
        _control = null;
    }

    /// <summary>
    /// Stops vswitchd as <paramref name="how"/> says and returns the counters it printed on its way out.
    /// Throws unless it exits with 0 within <paramref name="timeout"/> (killing it if it does not exit).
    /// </summary>
    public async Task<JsonObject> StopAsync(VswitchdStop how, TimeSpan timeout, CancellationToken ct = default)
    {
        _stopped = true;
        string what = how == VswitchdStop.Sigterm ? "SIGTERM" : "'shutdown'";
        try
        {
            if (how == VswitchdStop.ShutdownRequest)
                await RequestAsync(new JsonObject { ["op"] = "shutdown" }, RequestTimeout, ct);
            else
                _process.Signal(Signals.SIGTERM);
            int? code = await _process.WaitForExitAsync(timeout, throwOnTimeout: false, ct);
            if (code is null)
            {
                _process.Kill();
                throw new TimeoutException($"vswitchd did not exit within {timeout.TotalSeconds} s of {what} and was killed\n{Log}");
            }
            if (code != 0)
                throw new InvalidOperationException($"vswitchd exited with {code} after {what}, expected 0\n{Log}");
            return LastJsonObject(_process.Stdout)
                ?? throw new InvalidDataException($"vswitchd printed no counters JSON on stdout at exit\n{Log}");
        }
        finally
        {
            await DropConnectionAsync();
            SaveLog();
            if (_process.HasExited)
                CleanupRuntime(FilePrefix);
        }
    }

    /// <summary>SIGKILL, as a crash or the OOM killer ends it: no goodbye to its ports' peers, its sockets left behind.</summary>
    public async Task KillAsync()
    {
        _stopped = true;
        _process.Signal(Signals.SIGKILL);
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(10), throwOnTimeout: false);
        await DropConnectionAsync();
        SaveLog();
    }

    /// <summary>The last JSON object on stdout that starts at the beginning of a line (the exit report).</summary>
    private static JsonObject? LastJsonObject(string text)
    {
        string[] lines = text.Split('\n');
        for (int i = lines.Length - 1; i >= 0; i--)
        {
            if (!lines[i].StartsWith('{'))
                continue;
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(string.Join('\n', lines[i..])));
            try
            {
                if (JsonNode.Parse(ref reader) is JsonObject report)
                    return report;
            }
            catch (JsonException)
            {
                // A line that only starts like JSON; look further up.
            }
        }
        return null;
    }

    /// <summary>vswitchd's whole stdout and stderr beside its config (CONFIG.log), for a post-mortem.</summary>
    private void SaveLog()
    {
        try
        {
            File.WriteAllText(Path.ChangeExtension(ConfigPath, ".log"), _process.Describe() + "\n");
        }
        catch (IOException)
        {
            // The log is a convenience; failure messages carry its tail.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DropConnectionAsync();
        if (!_process.HasExited)
        {
            // Let it print and release its ports if it can; the kill below is the backstop.
            _process.Signal(Signals.SIGTERM);
            await _process.WaitForExitAsync(DisposeGrace, throwOnTimeout: false);
        }
        if (!_stopped)
            SaveLog();
        await _process.DisposeAsync();
        try
        {
            CleanupRuntime(FilePrefix);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Disposal must not hide the test's own outcome; SystemTopology checks that these files are gone.
        }
    }

    /// <summary>Removes what a (killed) DPDK process with this --file-prefix leaves behind.</summary>
    public static void CleanupRuntime(string filePrefix)
    {
        if (string.IsNullOrWhiteSpace(filePrefix) || filePrefix.Contains('/') || filePrefix.Contains(".."))
            throw new ArgumentException($"unsafe DPDK file prefix '{filePrefix}'");
        string runtime = Path.Combine("/var/run/dpdk", filePrefix);
        if (Directory.Exists(runtime))
            Directory.Delete(runtime, recursive: true);
        if (Directory.Exists("/dev/hugepages"))
        {
            foreach (string map in Directory.EnumerateFiles("/dev/hugepages", $"{filePrefix}map_*"))
                File.Delete(map);
        }
    }
}
