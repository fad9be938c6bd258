// One scenario through the real vswitchd: the scenario's config with its placeholders filled in,
// in a fresh temp directory; `vswitchd run --offline` until the daemon reports "drained"; its
// counters (and, where the scenario counts flows, its flows) over the control socket;
// {"op":"shutdown"}; its exit report. The output captures stay
// in OutputDirectory. Dispose leaves no vswitchd and no DPDK runtime files behind (VswitchdProcess)
// and removes the work directory unless Keep was called.
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;

namespace VSwitch.Tests.Integration.Pcap;

public sealed class ScenarioRun : IAsyncDisposable
{
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    private VswitchdProcess? _vswitchd;
    private readonly bool _countsFlows;
    private bool _keep;

    public string WorkDirectory { get; }
    public string InputDirectory => Path.Combine(WorkDirectory, "in");
    public string OutputDirectory => Path.Combine(WorkDirectory, "out");
    public string ConfigPath => Path.Combine(WorkDirectory, "vswitchd.yaml");
    public string SocketPath => Path.Combine(OutputDirectory, "vswitchd.sock");
    public string FilePrefix { get; }
    public JsonObject? Counters { get; private set; }
    public JsonObject? FinalCounters { get; private set; }
    /// <summary>The flows op's reply (every flow), for a scenario with expected flows.</summary>
    public JsonObject? Flows { get; private set; }

    public ScenarioRun(PcapScenario scenario)
    {
        string tag = Guid.NewGuid().ToString("N")[..8];
        // Short: the control socket lives here and sun_path holds 108 bytes.
        WorkDirectory = Path.Combine("/tmp", $"vswpcap-{tag}");
        FilePrefix = $"vswpcap_{scenario.Name.Replace('-', '_')}_{tag}";
        _countsFlows = scenario.ExpectedFlows is not null;
        Directory.CreateDirectory(InputDirectory);
        Directory.CreateDirectory(OutputDirectory);
        foreach (ScenarioPort port in scenario.Ports)
            File.Copy(scenario.InputPath(port.Name), Path.Combine(InputDirectory, port.Name + ".pcap"));
        File.WriteAllText(ConfigPath, scenario.ConfigText
            .Replace("@IN@", InputDirectory, StringComparison.Ordinal)
            .Replace("@OUT@", OutputDirectory, StringComparison.Ordinal)
            .Replace("@PREFIX@", FilePrefix, StringComparison.Ordinal));
    }

    /// <summary>Keeps the work directory after Dispose (for a failed run: the outputs and vswitchd.log stay for inspection).</summary>
    public void Keep() => _keep = true;

    public string Log => _vswitchd?.Log ?? "(vswitchd was not started)";

    public async Task RunToCompletionAsync(CancellationToken cancellation)
    {
        _vswitchd = await VswitchdProcess.StartAsync(ConfigPath, FilePrefix, SocketPath, VswitchdReady.Started,
            offline: true, workingDirectory: WorkDirectory);
        await _vswitchd.WaitForStateAsync("drained", DrainTimeout, cancellation);
        Counters = await _vswitchd.RequestAsync(new JsonObject { ["op"] = "counters" }, VswitchdProcess.RequestTimeout, cancellation);
        if (_countsFlows)
            Flows = await _vswitchd.RequestAsync(new JsonObject { ["op"] = "flows", ["top"] = 1000 }, VswitchdProcess.RequestTimeout, cancellation);
        FinalCounters = await _vswitchd.StopAsync(VswitchdStop.ShutdownRequest, ExitTimeout, cancellation);
    }

    public async ValueTask DisposeAsync()
    {
        if (_vswitchd is not null)
            await _vswitchd.DisposeAsync();
        if (_keep)
            return;
        try
        {
            Directory.Delete(WorkDirectory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temp directory left behind; not the test's concern.
        }
    }
}
