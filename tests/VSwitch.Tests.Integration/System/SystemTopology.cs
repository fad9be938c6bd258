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
// names derive from it, all <= 15 characters). A run records its pid in its work directory;
// the next run removes whatever a dead run left behind (processes started from its work
// directory, namespaces, veths, DPDK runtime files) and never touches a live one's.
using System.Text.RegularExpressions;
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

public sealed partial class SystemTopology : IAsyncLifetime
{
    public const string MacA = "02:00:00:00:01:01";
    public const string MacB = "02:00:00:00:01:02";
    public const string IpA = "10.0.0.1";
    public const string IpB = "10.0.0.2";
    public const int PrefixLength = 24;
    public const int Mtu = 1500;
    private const string WorkRoot = "/tmp/vswitch-systest";
    private const string OwnerFile = "owner.pid";
    /// <summary>A work directory with this file holds a failed run's captures; leftover cleanup keeps it.</summary>
    private const string KeepFile = "KEEP";

    public Endpoint RedA { get; } = new("red-a", "red", "ra", "p-red-a", 0, MacA, IpA);
    public Endpoint RedB { get; } = new("red-b", "red", "rb", "p-red-b", 1, MacB, IpB);
    public Endpoint BlueA { get; } = new("blue-a", "blue", "ba", "p-blue-a", 2, MacA, IpA);
    public Endpoint BlueB { get; } = new("blue-b", "blue", "bb", "p-blue-b", 3, MacB, IpB);
    public IReadOnlyList<Endpoint> Endpoints => [RedA, RedB, BlueA, BlueB];

    public string Prefix { get; } = $"vst{Random.Shared.Next(0x100000):x5}";
    public string WorkDir => Path.Combine(WorkRoot, Prefix);
    public string PeerScript => Path.Combine(WorkDir, "peer.py");
    private bool _keepArtifacts;
    private readonly List<string> _log = [];

    [GeneratedRegex("^(vst[0-9a-f]{5})-(ra|rb|ba|bb)$")]
    private static partial Regex OurName();

    [GeneratedRegex("^vst[0-9a-f]{5}$")]
    private static partial Regex OurPrefix();

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
    public void KeepArtifacts() => _keepArtifacts = true;

    public async ValueTask InitializeAsync()
    {
        await Prerequisites.RequireRootAndToolsAsync("The dataplane system test (network namespaces + vswitchd on af_packet)",
            Prerequisites.IpRoute2, Prerequisites.Ethtool, Prerequisites.Tcpdump, Prerequisites.Sysctl,
            Prerequisites.IputilsPing, Prerequisites.Scapy);
        RepoPaths.Vswitchd();

        await RemoveLeftoversAsync();
        // The owner file comes first: from here on a concurrent run sees this prefix as live.
        Directory.CreateDirectory(WorkDir);
        await File.WriteAllTextAsync(Path.Combine(WorkDir, OwnerFile), Environment.ProcessId.ToString());
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
        await KillProcessesUnderAsync(WorkDir);
        foreach (Endpoint e in Endpoints)
        {
            if (e.SwitchInterface.Length > 0)
                await Ip.DeleteLinkAsync(e.SwitchInterface);
            await NetworkNamespace.DeleteAsync($"{Prefix}-{e.Short}");
        }
        VswitchdProcess.CleanupRuntime(Prefix);
        if (_keepArtifacts)
        {
            await File.WriteAllTextAsync(Path.Combine(WorkDir, KeepFile), string.Join('\n', _log));
            File.Delete(Path.Combine(WorkDir, OwnerFile));
        }
        else if (Directory.Exists(WorkDir))
        {
            Directory.Delete(WorkDir, recursive: true);
        }
        await VerifyGoneAsync(Prefix);
    }

    private static async Task VerifyGoneAsync(string prefix)
    {
        var left = (await NetworkNamespace.ListAsync()).Concat(await Ip.LinkNamesAsync())
            .Where(n => n.StartsWith(prefix + "-", StringComparison.Ordinal)).ToList();
        if (Directory.Exists(Path.Combine("/var/run/dpdk", prefix)))
            left.Add($"/var/run/dpdk/{prefix}");
        if (left.Count > 0)
            throw new InvalidOperationException($"cleanup of {prefix} left {string.Join(", ", left)} behind");
    }

    /// <summary>Removes what earlier runs of this test left when they crashed or were killed; live runs are left alone.</summary>
    private static async Task RemoveLeftoversAsync()
    {
        var prefixes = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in (await NetworkNamespace.ListAsync()).Concat(await Ip.LinkNamesAsync()))
        {
            Match m = OurName().Match(name);
            if (m.Success)
                prefixes.Add(m.Groups[1].Value);
        }
        foreach (string root in new[] { WorkRoot, "/var/run/dpdk" })
        {
            if (Directory.Exists(root))
                prefixes.UnionWith(Directory.EnumerateDirectories(root).Select(Path.GetFileName).OfType<string>().Where(n => OurPrefix().IsMatch(n)));
        }

        foreach (string prefix in prefixes)
        {
            string workDir = Path.Combine(WorkRoot, prefix);
            if (IsLive(workDir))
                continue;
            await KillProcessesUnderAsync(workDir);
            foreach (string name in (await Ip.LinkNamesAsync()).Where(n => n.StartsWith(prefix + "-", StringComparison.Ordinal) && OurName().IsMatch(n)))
                await Ip.DeleteLinkAsync(name);
            foreach (string name in (await NetworkNamespace.ListAsync()).Where(n => n.StartsWith(prefix + "-", StringComparison.Ordinal) && OurName().IsMatch(n)))
                await NetworkNamespace.DeleteAsync(name);
            VswitchdProcess.CleanupRuntime(prefix);
            if (Directory.Exists(workDir) && !File.Exists(Path.Combine(workDir, KeepFile)))
                Directory.Delete(workDir, recursive: true);
            await VerifyGoneAsync(prefix);
            Report($"system test: removed what an earlier, dead run left behind (prefix {prefix})");
        }
    }

    /// <summary>A work directory whose owner.pid names a running test process (this one or another run of the assembly).</summary>
    internal static bool IsLive(string workDir)
    {
        string owner = Path.Combine(workDir, OwnerFile);
        if (!File.Exists(owner) || !int.TryParse(File.ReadAllText(owner).Trim(), out int pid))
            return false;
        if (pid == Environment.ProcessId)
            return true;
        return Signals.IsAlive(pid) && File.Exists($"/proc/{pid}/cmdline")
            && File.ReadAllText($"/proc/{pid}/cmdline").Contains("VSwitch.Tests.Integration", StringComparison.Ordinal);
    }

    /// <summary>
    /// SIGKILLs every process whose command line names <paramref name="workDir"/>: vswitchd (its
    /// --config), tcpdump (its -w) and the peer scripts all live there, and nothing else does.
    /// </summary>
    internal static async Task KillProcessesUnderAsync(string workDir)
    {
        string needle = workDir + "/";
        var victims = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == Environment.ProcessId)
                continue;
            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            if (cmdline.Contains(needle, StringComparison.Ordinal))
                victims.Add(pid);
        }
        foreach (int pid in victims)
            Signals.Send(pid, Signals.SIGKILL);
        for (int i = 0; i < 50 && victims.Any(Signals.IsAlive); i++)
            await Task.Delay(20);
    }
}
