// A vswitchd configuration built in code (the pcap lane's scenarios bring their own YAML) and
// the counters object vswitchd reports, on its control socket and on stdout when it exits.
// The keys are the configuration file's (docs/configuration.md); a test states only what its
// scenario needs, the rest takes the defaults below.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VSwitch.Tests.Integration.Infrastructure;

public sealed record VswitchdPort(string Name, string Devargs, string Role = "vm", int Mtu = 1500, int Queues = 1)
{
    /// <summary>A VM port over vhost-user at this socket (Devargs is then ignored).</summary>
    public string? VhostSocket { get; init; }
    /// <summary>"server" (vswitchd listens) or "client"; with VhostSocket.</summary>
    public string VhostMode { get; init; } = "server";

    /// <summary>A vhost-user VM port.</summary>
    public static VswitchdPort Vhost(string name, string socket, string mode = "server", int queues = 1) =>
        new(name, "", Queues: queues) { VhostSocket = socket, VhostMode = mode };

    public JsonObject ToJson()
    {
        var port = new JsonObject { ["name"] = Name };
        if (VhostSocket is null)
            port["devargs"] = Devargs;
        else
            port["vhost_user"] = new JsonObject { ["socket"] = VhostSocket, ["mode"] = VhostMode };
        port["role"] = Role;
        port["mtu"] = Mtu;
        port["queues"] = Queues;
        return port;
    }
}

public sealed record VswitchdVm(string Name, string Port, string Mac, IReadOnlyList<string> Ipv4, IReadOnlyList<string>? Ipv6 = null, int? FloodRatePps = null)
{
    /// <summary>
    /// flood_rate_pps (and flood_burst) for a VM whose floods a test drives at line rate to
    /// measure something else (allocation, shares of paths): the highest the config accepts.
    /// </summary>
    public const int LineRate = 10_000_000, LineRateBurst = 1_000_000;

    public JsonObject ToJson()
    {
        var vm = new JsonObject
        {
            ["name"] = Name,
            ["port"] = Port,
            ["mac"] = Mac,
            ["ipv4"] = Strings(Ipv4),
            ["ipv6"] = Strings(Ipv6 ?? []),
        };
        if (FloodRatePps is { } rate)
        {
            vm["flood_rate_pps"] = rate;
            vm["flood_burst"] = rate == LineRate ? LineRateBurst : rate;
        }
        return vm;
    }

    internal static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)v)]);
}

/// <summary>A VM on another host, reached through <paramref name="Host"/> (a name in the overlay's remote hosts).</summary>
public sealed record VswitchdRemoteVm(string Name, string Host, string Mac, IReadOnlyList<string> Ipv4);

public sealed record VswitchdTenant(string Name, IReadOnlyList<VswitchdVm> Vms, int? Vni = null, IReadOnlyList<VswitchdRemoteVm>? RemoteVms = null);

public sealed record VswitchdGeneveOption(int Class, int Type, string Data);

/// <param name="Tunnel">"vxlan" or "geneve".</param>
public sealed record VswitchdRemoteHost(string Name, string Vtep, string Tunnel, IReadOnlyList<VswitchdGeneveOption>? GeneveOptions = null);

/// <param name="Vtep">The VTEP address with its prefix length, e.g. "192.168.50.1/24".</param>
public sealed record VswitchdOverlay(string Uplink, string Vtep, string Mac, IReadOnlyList<VswitchdRemoteHost> RemoteHosts)
{
    /// <summary>(ip, mac) pairs the switch need not ARP for.</summary>
    public IReadOnlyList<(string Ip, string Mac)> StaticNeighbours { get; init; } = [];
    public int? Ttl { get; init; }
    public int? NeighbourTimeoutSeconds { get; init; }

    public JsonObject ToJson()
    {
        var overlay = new JsonObject
        {
            ["uplink"] = Uplink,
            ["vtep"] = Vtep,
            ["mac"] = Mac,
            ["static_neighbours"] = new JsonArray([.. StaticNeighbours.Select(n => (JsonNode)new JsonObject { ["ip"] = n.Ip, ["mac"] = n.Mac })]),
            ["remote_hosts"] = new JsonArray([.. RemoteHosts.Select(h => (JsonNode)new JsonObject
            {
                ["name"] = h.Name,
                ["vtep"] = h.Vtep,
                ["tunnel"] = h.Tunnel,
                ["geneve_options"] = new JsonArray([.. (h.GeneveOptions ?? []).Select(o => (JsonNode)new JsonObject
                {
                    ["class"] = o.Class,
                    ["type"] = o.Type,
                    ["data"] = o.Data,
                })]),
            })]),
        };
        if (Ttl is { } ttl)
            overlay["ttl"] = ttl;
        if (NeighbourTimeoutSeconds is { } timeout)
            overlay["neighbour_timeout_s"] = timeout;
        return overlay;
    }
}

/// <summary>A vswitchd configuration file's content (JSON; the YAML loader takes the same keys).</summary>
public sealed record VswitchdConfig(
    string FilePrefix,
    IReadOnlyList<VswitchdPort> Ports,
    IReadOnlyList<VswitchdTenant> Tenants,
    IReadOnlyList<int>? WorkerCores = null,
    int IdleSleepMicroseconds = 200,
    string? ControlSocket = null,
    int MemoryMegabytes = 512,
    string EalCores = "0,1",
    string? PcapDir = null,
    string? VhostDir = null)
{
    public VswitchdOverlay? Overlay { get; init; }

    /// <summary>dpdk.mbufs; vswitchd's default when null.</summary>
    public int? Mbufs { get; init; }

    /// <summary>The flows section as written; vswitchd's defaults when null.</summary>
    public JsonObject? Flows { get; init; }

    /// <summary>The metrics section (metrics.listen); null: no /metrics.</summary>
    public JsonObject? Metrics { get; init; }

    /// <summary>
    /// Two cores on these machines: EAL gets lcores 0 and 1, the worker core 1, and the worker
    /// sleeps when a poll finds nothing so the test's own processes get CPU. (The KVM sandbox
    /// has one CPU: EalCores "0" and worker core 0 there.)
    /// </summary>
    public JsonObject ToJson()
    {
        var dpdk = new JsonObject
        {
            ["eal_args"] = new JsonArray("--no-huge", "-m", MemoryMegabytes.ToString(), "--no-pci", "-l", EalCores, "--file-prefix", FilePrefix),
        };
        if (Mbufs is { } mbufs)
            dpdk["mbufs"] = mbufs;
        var json = new JsonObject
        {
            ["dpdk"] = dpdk,
            ["workers"] = new JsonObject
            {
                ["cores"] = new JsonArray([.. (WorkerCores ?? [1]).Select(c => (JsonNode)c)]),
                ["idle_sleep_us"] = IdleSleepMicroseconds,
            },
            ["ports"] = new JsonArray([.. Ports.Select(p => (JsonNode)p.ToJson())]),
            ["tenants"] = new JsonArray([.. Tenants.Select(TenantJson)]),
        };
        if (ControlSocket is not null)
            json["control_socket"] = ControlSocket;
        if (PcapDir is not null || VhostDir is not null)
        {
            var control = new JsonObject();
            if (PcapDir is not null)
                control["pcap_dir"] = PcapDir;
            if (VhostDir is not null)
                control["vhost_dir"] = VhostDir;
            json["control"] = control;
        }
        if (Overlay is not null)
            json["overlay"] = Overlay.ToJson();
        if (Flows is not null)
            json["flows"] = Flows.DeepClone();
        if (Metrics is not null)
            json["metrics"] = Metrics.DeepClone();
        return json;
    }

    /// <summary>Writes the configuration to <paramref name="path"/> (a .json file) and returns the path.</summary>
    public async Task<string> WriteAsync(string path)
    {
        await File.WriteAllTextAsync(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    private static JsonNode TenantJson(VswitchdTenant t)
    {
        var tenant = new JsonObject
        {
            ["name"] = t.Name,
            ["vms"] = new JsonArray([.. t.Vms.Select(vm => (JsonNode)vm.ToJson())]),
        };
        if (t.Vni is { } vni)
            tenant["vni"] = vni;
        if (t.RemoteVms is { } remote)
        {
            tenant["remote_vms"] = new JsonArray([.. remote.Select(vm => (JsonNode)new JsonObject
            {
                ["name"] = vm.Name,
                ["host"] = vm.Host,
                ["mac"] = vm.Mac,
                ["ipv4"] = VswitchdVm.Strings(vm.Ipv4),
            })]);
        }
        return tenant;
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

    public static VswitchdCounters Parse(JsonObject root)
    {
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
            throw new InvalidDataException($"counters JSON lacks an expected field ({e.Message}):\n{root.ToJsonString()}", e);
        }

        static long L(JsonObject o, string field) => o[field] is { } value ? (long)value
            : o.ContainsKey("vhost_user") && IsEthdevField(field) ? 0 : throw new KeyNotFoundException(field);
        // A vhost-user port is no ethdev: it has no device counters.
        static bool IsEthdevField(string field) => field is "ipackets" or "opackets" or "imissed" or "ierrors" or "oerrors" or "rx_nombuf";
    }

    public override string ToString() => Raw.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}
