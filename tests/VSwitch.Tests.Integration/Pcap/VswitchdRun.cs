// Runs the real vswitchd on one scenario: substitutes the scenario's config into a fresh temp
// directory, starts `vswitchd run --config <file> --offline`, waits on the control socket until
// the daemon reports "drained", reads its counters, shuts it down and collects its output
// captures. Whatever happens, the process is killed if it is still running and DPDK's runtime
// files for the run's file prefix are removed.
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VSwitch.Tests.Integration.Pcap;

public sealed class VswitchdRun : IDisposable
{
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private Process? _process;
    private bool _keep;

    public string WorkDirectory { get; }
    public string InputDirectory => Path.Combine(WorkDirectory, "in");
    public string OutputDirectory => Path.Combine(WorkDirectory, "out");
    public string ConfigPath => Path.Combine(WorkDirectory, "vswitchd.yaml");
    public string SocketPath => Path.Combine(OutputDirectory, "vswitchd.sock");
    public string FilePrefix { get; }
    public JsonObject? Counters { get; private set; }
    public JsonObject? FinalCounters { get; private set; }

    public VswitchdRun(PcapScenario scenario)
    {
        string tag = Guid.NewGuid().ToString("N")[..8];
        // Short: the control socket lives here and sun_path holds 108 bytes.
        WorkDirectory = Path.Combine("/tmp", $"vswpcap-{tag}");
        FilePrefix = $"vswpcap_{scenario.Name.Replace('-', '_')}_{tag}";
        Directory.CreateDirectory(InputDirectory);
        Directory.CreateDirectory(OutputDirectory);
        foreach (ScenarioPort port in scenario.Ports)
            File.Copy(scenario.InputPath(port.Name), Path.Combine(InputDirectory, port.Name + ".pcap"));
        File.WriteAllText(ConfigPath, scenario.ConfigText
            .Replace("@IN@", InputDirectory, StringComparison.Ordinal)
            .Replace("@OUT@", OutputDirectory, StringComparison.Ordinal)
            .Replace("@PREFIX@", FilePrefix, StringComparison.Ordinal));
    }

    /// <summary>Keeps the work directory after Dispose (for a failed run: the outputs and logs stay for inspection).</summary>
    public void Keep() => _keep = true;

    public string Log => $"--- vswitchd stderr ---\n{Tail(_stderr, 8000)}\n--- vswitchd stdout ---\n{Tail(_stdout, 2000)}";

    public async Task RunToCompletionAsync(CancellationToken cancellation)
    {
        string exe = RepoPaths.Vswitchd;
        if (!File.Exists(exe))
            throw new FileNotFoundException($"vswitchd is not built: {exe} does not exist (cd {RepoPaths.Root} && dotnet build VSwitch.sln)");
        var start = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = WorkDirectory,
        };
        foreach (string arg in new[] { "run", "--config", ConfigPath, "--offline" })
            start.ArgumentList.Add(arg);
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        if (!_process.Start())
            throw new InvalidOperationException($"could not start {exe}");
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        string lastState = "(no answer yet)";
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"vswitchd exited with code {_process.ExitCode} before it reported 'drained' (last state: {lastState})\n{Log}");
            if (clock.Elapsed > DrainTimeout)
                throw new TimeoutException($"vswitchd did not report 'drained' within {DrainTimeout.TotalSeconds} s (last state: {lastState})\n{Log}");
            if (File.Exists(SocketPath))
            {
                try
                {
                    JsonObject status = await RequestAsync("status", cancellation);
                    lastState = status["state"]?.GetValue<string>() ?? $"(no state in {status.ToJsonString()})";
                    if (lastState == "drained")
                        break;
                }
                catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException && !cancellation.IsCancellationRequested)
                {
                    lastState = $"(socket: {e.GetType().Name}: {e.Message})";
                }
            }
            await Task.Delay(100, cancellation);
        }

        Counters = await RequestAsync("counters", cancellation);
        await RequestAsync("shutdown", cancellation);
        using (var exit = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
        {
            exit.CancelAfter(ExitTimeout);
            try
            {
                await _process.WaitForExitAsync(exit.Token);
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                throw new TimeoutException($"vswitchd did not exit within {ExitTimeout.TotalSeconds} s of 'shutdown'\n{Log}");
            }
        }
        _process.WaitForExit(); // flushes the redirected stdout/stderr readers
        if (_process.ExitCode != 0)
            throw new InvalidOperationException($"vswitchd exited with code {_process.ExitCode} after 'shutdown', expected 0\n{Log}");
        FinalCounters = LastJsonObject(_stdout.ToString())
            ?? throw new InvalidDataException($"vswitchd printed no counters JSON on stdout at exit\n{Log}");
    }

    private async Task<JsonObject> RequestAsync(string op, CancellationToken cancellation)
    {
        JsonObject reply = await ControlClient.RequestAsync(SocketPath, new JsonObject { ["op"] = op }, RequestTimeout, cancellation);
        if (reply["ok"]?.GetValue<bool>() != true)
            throw new InvalidOperationException($"control socket: {{\"op\":\"{op}\"}} failed: {reply.ToJsonString()}");
        return reply;
    }

    /// <summary>The last JSON object on stdout that starts at the beginning of a line (the exit report).</summary>
    private static JsonObject? LastJsonObject(string text)
    {
        string[] lines = text.Split('\n');
        for (int i = lines.Length - 1; i >= 0; i--)
        {
            if (!lines[i].StartsWith('{'))
                continue;
            byte[] utf8 = Encoding.UTF8.GetBytes(string.Join('\n', lines[i..]));
            var reader = new Utf8JsonReader(utf8);
            try
            {
                if (JsonNode.Parse(ref reader) is JsonObject o)
                    return o;
            }
            catch (JsonException)
            {
            }
        }
        return null;
    }

    public void Dispose()
    {
        if (_process is not null)
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
            }
            _process.Dispose();
        }
        // A killed DPDK process leaves its runtime directory (and, with hugepages, map files) behind.
        TryDelete(() => Directory.Delete(Path.Combine("/var/run/dpdk", FilePrefix), recursive: true));
        if (Directory.Exists("/dev/hugepages"))
        {
            foreach (string file in Directory.GetFiles("/dev/hugepages", FilePrefix + "map_*"))
                TryDelete(() => File.Delete(file));
        }
        if (!_keep)
            TryDelete(() => Directory.Delete(WorkDirectory, recursive: true));
    }

    private static void TryDelete(Action delete)
    {
        try
        {
            delete();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static void Append(StringBuilder sink, string? line)
    {
        if (line is null)
            return;
        lock (sink)
            sink.Append(line).Append('\n');
    }

    private static string Tail(StringBuilder sink, int limit)
    {
        lock (sink)
        {
            string text = sink.ToString();
            return text.Length <= limit ? text : "..." + text[^limit..];
        }
    }
}
