// One scenario folder of pcaps/ (written by pcaps/generate.py): the switch config, an input
// capture per port, and the expected output captures and counters.
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;
using YamlDotNet.Serialization;
using VSwitch.Dataplane.Counters;

namespace VSwitch.Tests.Integration.Pcap;

public sealed record ScenarioPort(string Name, string Role, int Mtu);

/// <param name="Port">The VM's port; "" for a remote VM (tenants[].remote_vms), which lives behind a tunnel.</param>
public sealed record ScenarioVm(string Name, string Tenant, string Port, string Mac, IReadOnlyList<string> Ipv4, IReadOnlyList<string> Ipv6);

/// <summary>The overlay section of a scenario's config, as far as the checks need it.</summary>
public sealed record ScenarioOverlay(string Uplink, string Vtep, string Mac, IReadOnlyDictionary<string, uint> VniByTenant);

public sealed class PcapScenario
{
    /// <summary>The DropReason enum's labels as the control socket spells them, in enum order (the pinned list).</summary>
    public static readonly IReadOnlyList<string> DropLabels = RepoPaths.DropReasonLabels();

    /// <summary>Every scenario the pcap lane must have; a missing folder is a failure, not a skip.</summary>
    public static readonly IReadOnlyList<string> Required =
        ["unicast", "flood", "overlap", "spoof", "arp-responder", "malformed", "oversize", "misc", "first-hop",
         "overlay-encap", "overlay-decap", "overlay-bum", "overlay-refused", "overlay-neighbour"];

    public required string Name { get; init; }
    public required string Directory { get; init; }
    public required string ConfigText { get; init; }
    public required IReadOnlyList<ScenarioPort> Ports { get; init; }
    public required IReadOnlyList<ScenarioVm> Vms { get; init; }
    public required JsonObject ExpectedCounters { get; init; }
    /// <summary>expected/flows.json: every flow of the run, as the flows op reports it (without times); null where the scenario does not count flows.</summary>
    public JsonArray? ExpectedFlows { get; init; }
    public ScenarioOverlay? Overlay { get; init; }

    public string InputPath(string port) => Path.Combine(Directory, "in", port + ".pcap");
    public string ExpectedPath(string port) => Path.Combine(Directory, "expected", port + ".pcap");
    public ScenarioVm? VmOn(string port) => Vms.FirstOrDefault(vm => vm.Port == port);

    public static PcapScenario Load(string name)
    {
        string directory = Path.Combine(RepoPaths.PcapsDirectory, name);
        string configPath = Path.Combine(directory, "vswitchd.yaml");
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"scenario '{name}': {configPath} is missing (run /usr/bin/python3 pcaps/generate.py)");
        string text = File.ReadAllText(configPath);
        var root = new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(text)
            ?? throw new InvalidDataException($"{configPath}: empty");

        var ports = new List<ScenarioPort>();
        foreach (var port in List(root, "ports", configPath).Cast<Dictionary<object, object>>())
        {
            string role = port.TryGetValue("role", out object? r) ? (string)r : "vm";
            int mtu = port.TryGetValue("mtu", out object? m) ? int.Parse((string)m) : 1500;
            ports.Add(new ScenarioPort((string)port["name"], role, mtu));
        }
        var vms = new List<ScenarioVm>();
        var vnis = new Dictionary<string, uint>(StringComparer.Ordinal);
        foreach (var tenant in List(root, "tenants", configPath).Cast<Dictionary<object, object>>())
        {
            foreach (var vm in List(tenant, "vms", configPath).Cast<Dictionary<object, object>>())
            {
                vms.Add(new ScenarioVm((string)vm["name"], (string)tenant["name"], (string)vm["port"], ((string)vm["mac"]).ToLowerInvariant(),
                    Strings(vm, "ipv4"), Strings(vm, "ipv6")));
            }
            if (tenant.TryGetValue("remote_vms", out object? remote) && remote is List<object> remoteVms)
            {
                foreach (var vm in remoteVms.Cast<Dictionary<object, object>>())
                    vms.Add(new ScenarioVm((string)vm["name"], (string)tenant["name"], "", ((string)vm["mac"]).ToLowerInvariant(), Strings(vm, "ipv4"), []));
            }
            if (tenant.TryGetValue("vni", out object? vni))
                vnis[(string)tenant["name"]] = uint.Parse((string)vni);
        }
        ScenarioOverlay? overlay = null;
        if (root.TryGetValue("overlay", out object? o) && o is Dictionary<object, object> section)
            overlay = new ScenarioOverlay((string)section["uplink"], ((string)section["vtep"]).Split('/')[0], ((string)section["mac"]).ToLowerInvariant(), vnis);

        string countersPath = Path.Combine(directory, "expected", "counters.json");
        var counters = JsonNode.Parse(File.ReadAllText(countersPath)) as JsonObject
            ?? throw new InvalidDataException($"{countersPath}: not a JSON object");
        string flowsPath = Path.Combine(directory, "expected", "flows.json");
        JsonArray? flows = File.Exists(flowsPath)
            ? JsonNode.Parse(File.ReadAllText(flowsPath)) as JsonArray ?? throw new InvalidDataException($"{flowsPath}: not a JSON array")
            : null;
        return new PcapScenario
        {
            Name = name, Directory = directory, ConfigText = text, Ports = ports, Vms = vms, ExpectedCounters = counters, ExpectedFlows = flows, Overlay = overlay,
        };
    }

    /// <summary>Scenario folders present in pcaps/ (those with a vswitchd.yaml), sorted.</summary>
    public static IReadOnlyList<string> Discover() =>
        System.IO.Directory.GetDirectories(RepoPaths.PcapsDirectory)
            .Where(d => File.Exists(Path.Combine(d, "vswitchd.yaml")))
            .Select(Path.GetFileName).OfType<string>()
            .Order(StringComparer.Ordinal)
            .ToList();

    private static List<object> List(Dictionary<object, object> map, string key, string path) =>
        map.TryGetValue(key, out object? value) && value is List<object> list
            ? list
            : throw new InvalidDataException($"{path}: '{key}' is missing or not a list");

    private static IReadOnlyList<string> Strings(Dictionary<object, object> map, string key) =>
        map.TryGetValue(key, out object? value) && value is List<object> list ? list.Cast<string>().ToList() : [];
}
