// The system test's world: four "VMs", each a network namespace with one veth whose other end
// (in the root namespace) vswitchd drives as a net_af_packet port. Two tenants, red and blue,
// OVERLAP on purpose: red-a and blue-a have the same MAC and IPv4 address, and so do red-b and
// blue-b. Only the tenant binding of each port keeps them apart.
//
//   ns vstXXXXX-ra [vstXXXXX-ra-v 02:00:00:00:01:01 10.0.0.1] == vstXXXXX-ra == p-red-a  \
//   ns vstXXXXX-rb [vstXXXXX-rb-v 02:00:00:00:01:02 10.0.0.2] == vstXXXXX-rb == p-red-b   | vswitchd
//   ns vstXXXXX-ba [vstXXXXX-ba-v 02:00:00:00:01:01 10.0.0.1] == vstXXXXX-ba == p-blue-a  | (af_packet)
//   ns vstXXXXX-bb [vstXXXXX-bb-v 02:00:00:00:01:02 10.0.0.2] == vstXXXXX-bb == p-blue-b /
//
// Every run has a fresh prefix "vst" + 5 hex digits (namespace, link and DPDK --file-prefix
// names derive from it); TopologyWorkspace removes what dead runs left behind.
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;

// Namespace SystemTests, not System: a namespace VSwitch.Tests.Integration.System would shadow
// the BCL's System for every file under VSwitch.Tests.Integration (System.Text... would not resolve).
namespace VSwitch.Tests.Integration.SystemTests;

/// <summary>One VM stand-in. Compared by reference: red-a and blue-a share MAC and IP but are different VMs.</summary>
public sealed class Endpoint(string name, string tenant, string shortName, string portName, int deviceIndex, string mac, string ipv4)
{
    public string Name { get; } = name;
    public string Tenant { get; } = tenant;
    /// <summary>Two letters (ra, rb, ba, bb): interface-name suffix and marker prefix.</summary>
    public string Short { get; } = shortName;
    /// <summary>The vswitchd port bound to this VM.</summary>
    public string PortName { get; } = portName;
    /// <summary>N in net_af_packetN.</summary>
    public int DeviceIndex { get; } = deviceIndex;
    public string Mac { get; } = mac;
    public string Ipv4 { get; } = ipv4;
    /// <summary>Set once the namespace exists.</summary>
    public NetworkNamespace Ns { get; set; } = null!;
    /// <summary>The VM side of the veth (inside Ns).</summary>
    public string VmInterface { get; set; } = "";
    /// <summary>The switch side of the veth (root namespace), given to vswitchd.</summary>
    public string SwitchInterface { get; set; } = "";
    public string Devargs => $"net_af_packet{DeviceIndex},iface={SwitchInterface}";

    public override string ToString() => Name;
}

public sealed class SystemTopology : IAsyncLifetime
{
    public const string MacA = "02:00:00:00:01:01";
    public const string MacB = "02:00:00:00:01:02";
    public const string IpA = "10.0.0.1";
    public const string IpB = "10.0.0.2";
    public const int PrefixLength = 24;
    public const int Mtu = 1500;

    public Endpoint RedA { get; } = new("red-a", "red", "ra", "p-red-a", 0, MacA, IpA);
    public Endpoint RedB { get; } = new("red-b", "red", "rb", "p-red-b", 1, MacB, IpB);
    public Endpoint BlueA { get; } = new("blue-a", "blue", "ba", "p-blue-a", 2, MacA, IpA);
    public Endpoint BlueB { get; } = new("blue-b", "blue", "bb", "p-blue-b", 3, MacB, IpB);
    public IReadOnlyList<Endpoint> Endpoints => [RedA, RedB, BlueA, BlueB];

    private readonly TopologyWorkspace _workspace = new("/tmp/vswitch-systest", "vst");
    public string Prefix => _workspace.Prefix;
    public string WorkDir => _workspace.WorkDir;
    public string PeerScript => _workspace.PathOf("peer.py");
    private readonly List<string> _log = [];

    public Endpoint PeerOf(Endpoint e) => Endpoints.Single(o => o.Tenant == e.Tenant && o != e);

    /// <summary>The endpoint a frame from <paramref name="sender"/> to <paramref name="mac"/> must reach: the tenant decides, not the MAC alone.</summary>
    public Endpoint? OwnerInTenant(Endpoint sender, string mac) => Endpoints.SingleOrDefault(o => o.Tenant == sender.Tenant && o.Mac == mac);

    public void Log(string line)
    {
        lock (_log)
            _log.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
        Report(line);
    }

    private static void Report(string line) => TestOutput.Write(line);

    /// <summary>Called by a failing test: keep the captures and configs for a post-mortem.</summary>
    public void KeepArtifacts() => _workspace.Keep();

    public async ValueTask InitializeAsync()
    {
        await Prerequisites.RequireRootAndToolsAsync("The dataplane system test (network namespaces + vswitchd on af_packet)",
            Prerequisites.NetworkTestTools);
        RepoPaths.Vswitchd();

        await _workspace.ClaimAsync(line => Report($"system test: {line}"));
        await File.WriteAllTextAsync(PeerScript, PeerScripts.Python);
        try
        {
            foreach (Endpoint e in Endpoints)
                await CreateEndpointAsync(e);
        }
        catch
        {
            await TearDownAsync();
            throw;
        }
        Log($"topology {Prefix} up: {string.Join(", ", Endpoints.Select(e => $"{e.Name}={e.Ns}/{e.VmInterface}<->{e.SwitchInterface}"))}");
    }

    private async Task CreateEndpointAsync(Endpoint e) => await CreateVmAsync(e, $"{Prefix}-{e.Short}", null, Mtu);

    /// <summary>
    /// A VM stand-in: namespace <paramref name="name"/> holding NAME-v (e's MAC and address), the
    /// veth's other end NAME in <paramref name="switchNs"/> (null: the root namespace), where a
    /// vswitchd takes it as an af_packet port.
    /// </summary>
    internal static async Task CreateVmAsync(Endpoint e, string name, NetworkNamespace? switchNs, int mtu)
    {
        e.SwitchInterface = name;
        e.VmInterface = $"{name}-v";
        e.Ns = await NetworkNamespace.CreateAsync(name);
        await RunInAsync(switchNs, "ip", "link", "add", e.SwitchInterface, "type", "veth", "peer", "name", e.VmInterface, "netns", e.Ns.Name);
        await QuietSwitchEndAsync(switchNs, e.SwitchInterface, mtu);

        // VM side.
        await e.Ns.SysctlAsync("net.ipv6.conf.all.disable_ipv6", "1");
        await e.Ns.SysctlAsync("net.ipv6.conf.default.disable_ipv6", "1");
        await e.Ns.SysctlAsync($"net.ipv6.conf.{e.VmInterface}.disable_ipv6", "1");
        await e.Ns.RunCheckedAsync("ethtool", Ip.EthtoolOffloadsOffArgs(e.VmInterface));
        await e.Ns.RunCheckedAsync("ip", "link", "set", e.VmInterface, "address", e.Mac, "mtu", mtu.ToString());
        await e.Ns.RunCheckedAsync("ip", "addr", "add", $"{e.Ipv4}/{PrefixLength}", "brd", "+", "dev", e.VmInterface);
        await e.Ns.RunCheckedAsync("ip", "link", "set", e.VmInterface, "up");
        await HoldNeighboursAsync(e.Ns, e.VmInterface);
    }

    /// <summary>
    /// Stops a kernel from re-probing a neighbour on its own while any run lasts (Linux runs
    /// RFC 4861's NUD for ARP too): a confirmed entry stays REACHABLE for 10 to 30 min instead of
    /// 15 to 45 s, and an entry learned from someone's ARP request (STALE) waits 20 min instead
    /// of 5 s in DELAY before its unicast probe. Such a probe arriving while the captures stop
    /// would be counted by vswitchd and missed by the captures. Resolving an unknown neighbour
    /// by ARP, which the tests check, is unchanged.
    /// </summary>
    internal static async Task HoldNeighboursAsync(NetworkNamespace ns, string device)
    {
        await ns.SysctlAsync($"net.ipv4.neigh.{device}.base_reachable_time_ms", "1200000");
        await ns.SysctlAsync($"net.ipv4.neigh.{device}.delay_first_probe_time", "1200");
    }

    /// <summary>The switch end of a veth that vswitchd drives: no IPv6 chatter, no ARP from its namespace's stack, no offloads.</summary>
    internal static async Task QuietSwitchEndAsync(NetworkNamespace? ns, string device, int mtu)
    {
        await RunInAsync(ns, "sysctl", "-q", "-w", $"net.ipv6.conf.{device}.disable_ipv6=1");
        await RunInAsync(ns, "ip", "link", "set", device, "arp", "off", "mtu", mtu.ToString());
        await RunInAsync(ns, "ethtool", Ip.EthtoolOffloadsOffArgs(device));
        await RunInAsync(ns, "ip", "link", "set", device, "up");
    }

    /// <summary>A command in <paramref name="ns"/>, or in the root namespace when null; throws unless it succeeds.</summary>
    internal static async Task RunInAsync(NetworkNamespace? ns, string file, params string[] args)
    {
        if (ns is null)
            await ProcessRunner.RunCheckedAsync(file, args, NetworkNamespace.CommandTimeout);
        else
            await ns.RunCheckedAsync(file, args);
    }

    /// <summary>vswitchd's configuration for this topology: one af_packet port per endpoint, two overlapping tenants.</summary>
    public VswitchdConfig VswitchdConfig() => new(
        FilePrefix: Prefix,
        Ports: [.. Endpoints.Select(e => new VswitchdPort(e.PortName, e.Devargs, "vm", Mtu, 1))],
        Tenants: [.. Endpoints.GroupBy(e => e.Tenant).Select(t => new VswitchdTenant(t.Key,
            [.. t.Select(e => new VswitchdVm(e.Name, e.PortName, e.Mac, [e.Ipv4]))]))]);

    public async ValueTask DisposeAsync() => await TearDownAsync();

    private async Task TearDownAsync()
    {
        string log;
        lock (_log)
            log = string.Join('\n', _log);
        await _workspace.ReleaseAsync(log);
    }
}
