// TEMPORARY stub, replaced by the config branch.
using VSwitch.Dataplane.Switching;
namespace VSwitch.Dataplane.Config;
public sealed record DaemonConfig(IReadOnlyList<string> EalArgs, string PmdDir, int Mbufs, IReadOnlyList<int> WorkerCores, int IdleSleepMicroseconds, string? ControlSocket, SwitchSpec Spec);
public sealed class ConfigException(string message) : Exception(message);
public static class SpecValidator { public static IReadOnlyList<string> Validate(SwitchSpec spec) => []; }
public static class ConfigLoader
{
    public static DaemonConfig Load(string path)
    {
        var doc = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var eal = doc["dpdk"]!["eal_args"]!.AsArray().Select(x => (string)x!).ToList();
        var cores = doc["workers"]?["cores"]?.AsArray().Select(x => (int)x!).ToList() ?? [1];
        int idle = (int?)doc["workers"]?["idle_sleep_us"] ?? 0;
        var ports = doc["ports"]!.AsArray().Select(p => new PortSpec((string)p!["name"]!, (string)p["devargs"]!, (string?)p["role"] == "uplink" ? PortRole.Uplink : PortRole.Vm, (int?)p["mtu"] ?? 1500, (int?)p["queues"] ?? 1)).ToList();
        var tenants = new List<TenantSpec>(); var vms = new List<VmSpec>();
        foreach (var t in doc["tenants"]!.AsArray()) { tenants.Add(new((string)t!["name"]!)); foreach (var v in t["vms"]!.AsArray()) { Protocols.MacAddress.TryParse((string)v!["mac"]!, out ulong mac); vms.Add(new((string)v["name"]!, (string)t["name"]!, (string)v["port"]!, mac, [.. (v["ipv4"]?.AsArray() ?? []).Select(x => Protocols.Ipv4.ParseAddress((string)x!))], [.. (v["ipv6"]?.AsArray() ?? []).Select(x => Protocols.Ipv6.ParseAddress((string)x!))])); } }
        return new DaemonConfig(eal, "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0", 8191, cores, idle, (string?)doc["control_socket"], new SwitchSpec([.. tenants], [.. ports], [.. vms]));
    }
}
