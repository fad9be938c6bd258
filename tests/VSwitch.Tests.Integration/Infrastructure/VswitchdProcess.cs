// vswitchd as a test peer: writes a configuration, starts the built binary, waits until its
// workers poll, and stops it with SIGINT. The counters come from the JSON vswitchd prints on
// stdout when it exits (the same object the control socket's {"op":"counters"} returns), so
// tests read them after the run. DPDK's runtime files are removed on stop and on failure.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VSwitch.Tests.Integration.Infrastructure;

public sealed record VswitchdPort(string Name, string Devargs, string Role = "vm", int Mtu = 1500, int Queues = 1);

public sealed record VswitchdVm(string Name, string Port, string Mac, IReadOnlyList<string> Ipv4, IReadOnlyList<string>? Ipv6 = null);

public sealed record VswitchdTenant(string Name, IReadOnlyList<VswitchdVm> Vms);

/// <summary>A vswitchd configuration file's content (JSON now; the YAML loader takes the same keys).</summary>
public sealed record VswitchdConfig(
    string FilePrefix,
    IReadOnlyList<VswitchdPort> Ports,
    IReadOnlyList<VswitchdTenant> Tenants,
    IReadOnlyList<int>? WorkerCores = null,
    int IdleSleepMicroseconds = 200,
    string? ControlSocket = null,
    int MemoryMegabytes = 512)
{
    /// <summary>
    /// Two cores on these machines: EAL gets lcores 0 and 1, the worker core 1, and the worker
    /// sleeps when a poll finds nothing so the test's own processes get CPU.
    /// </summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["dpdk"] = new JsonObject
            {
                ["eal_args"] = new JsonArray("--no-huge", "-m", MemoryMegabytes.ToString(), "--no-pci", "-l", "0,1", "--file-prefix", FilePrefix),
            },
            ["workers"] = new JsonObject
            {
                ["cores"] = new JsonArray([.. (WorkerCores ?? [1]).Select(c => (JsonNode)c)]),
                ["idle_sleep_us"] = IdleSleepMicroseconds,
            },
            ["ports"] = new JsonArray([.. Ports.Select(p => (JsonNode)new JsonObject
            {
                ["name"] = p.Name,
                ["devargs"] = p.Devargs,
                ["role"] = p.Role,
                ["mtu"] = p.Mtu,
                ["queues"] = p.Queues,
            })]),
            ["tenants"] = new JsonArray([.. Tenants.Select(t => (JsonNode)new JsonObject
            {
                ["name"] = t.Name,
                ["vms"] = new JsonArray([.. t.Vms.Select(vm => (JsonNode)new JsonObject
                {
                    ["name"] = vm.Name,
                    ["port"] = vm.Port,
                    ["mac"] = vm.Mac,
                    ["ipv4"] = new JsonArray([.. vm.Ipv4.Select(ip => (JsonNode)ip)]),
                    ["ipv6"] = new JsonArray([.. (vm.Ipv6 ?? []).Select(ip => (JsonNode)ip)]),
                })]),
            })]),
        };
        if (ControlSocket is not null)
            json["control_socket"] = ControlSocket;
        return json;
    }
}

public sealed record PortCounters(long PortId, string Role, string? Vm, long Rx, long Tx, long Drops,
    long Ipackets, long Opackets, long Imissed, long Ierrors, long Oerrors, long RxNoMbuf);

/// <summary>vswitchd's counters object: per port, per drop reason, and the forwarding totals.</summary>
public sealed record VswitchdCounters(
    IReadOnlyDictionary<string, PortCounters> Ports,
    IReadOnlyDictionary<string, long> Drops,
    long Unicast,
    long Flooded,
    long ArpReplies,
    JsonObject Raw)
{
    public long TotalDrops => Drops.Values.Sum();

    public PortCounters Port(string name) =>
        Ports.TryGetValue(name, out PortCounters? port) ? port : throw new KeyNotFoundException($"no port '{name}' in vswitchd's counters: {Raw.ToJsonString()}");

    public static VswitchdCounters Parse(string json)
    {
        JsonObject root = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidDataException("counters: not a JSON object");
        try
        {
            var ports = new Dictionary<string, PortCounters>(StringComparer.Ordinal);
            foreach ((string name, JsonNode? node) in root["ports"]!.AsObject())
            {
                JsonObject p = node!.AsObject();
                ports[name] = new PortCounters(L(p, "port_id"), (string)p["role"]!, (string?)p["vm"], L(p, "rx"), L(p, "tx"), L(p, "drops"),
                    L(p, "ipackets"), L(p, "opackets"), L(p, "imissed"), L(p, "ierrors"), L(p, "oerrors"), L(p, "rx_nombuf"));
            }
            var drops = root["drops"]!.AsObject().ToDictionary(kv => kv.Key, kv => (long)kv.Value!, StringComparer.Ordinal);
            return new VswitchdCounters(ports, drops, L(root, "unicast"), L(root, "flooded"), L(root, "arp_replies"), root);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw new InvalidDataException($"counters JSON lacks an expected field ({e.Message}):\n{json}", e);
        }

        static long L(JsonObject o, string field) => (long)(o[field] ?? throw new KeyNotFoundException(field));
    }

    public override string ToString() => Raw.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}

public sealed class VswitchdProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);
    private const string ReadyMarker = "worker(s) on core(s)";

    private readonly BackgroundProcess _process;
    private bool _stopped;

    public VswitchdConfig Config { get; }
    public string ConfigPath { get; }
    public string Log => _process.Describe();

    private VswitchdProcess(VswitchdConfig config, string configPath, BackgroundProcess process)
    {
        Config = config;
        ConfigPath = configPath;
        _process = process;
    }

    /// <summary>Writes the config beside the test's other files, starts vswitchd, and returns once its workers run.</summary>
    public static async Task<VswitchdProcess> StartAsync(VswitchdConfig config, string configPath)
    {
        string binary = VswitchdBinary.Locate();
        CleanupRuntime(config.FilePrefix);
        await File.WriteAllTextAsync(configPath, config.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        BackgroundProcess process = BackgroundProcess.Start("vswitchd", binary, ["run", "--config", configPath]);
        var daemon = new VswitchdProcess(config, configPath, process);
        try
        {
            await process.WaitForLineAsync(line => line.Contains(ReadyMarker, StringComparison.Ordinal), StartTimeout, $"'{ReadyMarker}' (workers started)");
        }
        catch
        {
            await daemon.DisposeAsync();
            throw;
        }
        return daemon;
    }

    /// <summary>SIGINT, then the counters vswitchd prints on its way out. Throws if it does not exit cleanly.</summary>
    public async Task<VswitchdCounters> StopAsync()
    {
        _stopped = true;
        try
        {
            int code = await _process.StopAsync(Signals.SIGINT, StopTimeout);
            if (code != 0)
                throw new InvalidOperationException($"vswitchd exited with {code} after SIGINT.\n{_process.Describe()}");
            string stdout = _process.Stdout;
            int start = stdout.IndexOf('{');
            if (start < 0)
                throw new InvalidDataException($"vswitchd printed no counters JSON on exit.\n{_process.Describe()}");
            return VswitchdCounters.Parse(stdout[start..]);
        }
        finally
        {
            SaveLog();
            CleanupRuntime(Config.FilePrefix);
        }
    }

    /// <summary>vswitchd's stdout and stderr, beside its config (CONFIG.log), for a post-mortem.</summary>
    private void SaveLog()
    {
        try
        {
            File.WriteAllText(Path.ChangeExtension(ConfigPath, ".log"), _process.Describe() + "\n");
        }
        catch (IOException)
        {
            // The log is a convenience; the failure message carries the same text.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped && !_process.HasExited)
        {
            // Let it print and release its ports if it can; KillTree below is the backstop.
            _process.Signal(Signals.SIGTERM);
            await _process.WaitForExitAsync(TimeSpan.FromSeconds(5), throwOnTimeout: false);
        }
        if (!_stopped)
            SaveLog();
        await _process.DisposeAsync();
        CleanupRuntime(Config.FilePrefix);
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

/// <summary>Where the built vswitchd is: $VSWITCHD, else src/Dataplane/bin/&lt;this test build's configuration&gt;/net10.0/vswitchd.</summary>
public static class VswitchdBinary
{
    public static string SolutionRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VSwitch.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no VSwitch.sln above {AppContext.BaseDirectory}; set VSWITCHD to the vswitchd binary");
    }

    public static string Locate()
    {
        string? overridden = Environment.GetEnvironmentVariable("VSWITCHD");
        string binary;
        if (!string.IsNullOrEmpty(overridden))
        {
            binary = overridden;
        }
        else
        {
            // The test assembly lives in bin/<Configuration>/<tfm>/: use vswitchd of the same configuration.
            var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
            string configuration = baseDir.Parent?.Name ?? "Debug";
            binary = Path.Combine(SolutionRoot(), "src", "Dataplane", "bin", configuration, baseDir.Name, "vswitchd");
        }
        if (!File.Exists(binary))
            throw new InvalidOperationException($"vswitchd not found at {binary}: build it first (dotnet build VSwitch.sln), or set VSWITCHD");
        string shim = Path.Combine(Path.GetDirectoryName(binary)!, "libvswshim.so");
        if (!File.Exists(shim))
            throw new InvalidOperationException(
                $"{shim} is missing: vswitchd cannot reach DPDK's inline functions without it. Build native/dpdk-shim " +
                "(needs libdpdk-dev) and run dotnet build VSwitch.sln again so it is copied beside vswitchd");
        return binary;
    }
}
