// The overlay system test's world (RFC 7348 section 4 and RFC 8926 section 3: tenant frames
// tunnelled between VTEPs over a shared IPv4 underlay). Three hosts on one underlay segment,
// a Linux bridge in its own namespace:
//
//   host A: vswitchd A, uplink net_af_packet on <P>-ua (root ns)  == <P>-ua-u --\
//           VTEP 192.168.50.1, overlay MAC 02:aa:00:00:00:01                     |
//           VMs red-a, blue-a (02:00:00:00:01:01, 10.0.0.1 both: overlap)        |
//   host B: vswitchd B, uplink net_af_packet on <P>-ub (ns <P>-hb) == <P>-ub-u --+-- br0 in ns <P>-ul
//           VTEP 192.168.50.2, overlay MAC 02:aa:00:00:00:02                     |   (+ the underlay
//           VMs red-b, blue-b (02:00:00:00:01:02, 10.0.0.2 both: overlap)        |    injector, on br0)
//   host K: ns <P>-k, the Linux kernel's VXLAN device vx0 (VNI of red) on       |
//           <P>-k-v 192.168.50.3 (MAC 02:cc:00:00:00:03)              == <P>-k-u --/
//           red-k = vx0 itself: 02:00:00:00:01:03, 10.0.0.3
//
// Tunnel per host pair (the remote_hosts table names one tunnel type per host): A<->K VXLAN
// (the kernel's), A<->B GENEVE with one option (the host kernel has no geneve module, so two
// vswitchds are the only real GENEVE peers here). B does not know K: red-k and red-b cannot
// reach each other, and A never relays decapsulated traffic to another VTEP.
//
// Each VM endpoint is a namespace <P>-<xx> with <P>-<xx>-v inside and <P>-<xx> (given to its
// vswitchd on net_af_packet: in the root namespace for host A, in <P>-hb for host B).
//
// vswitchd B runs in a network namespace of its own, as on a host of its own. Beside realism
// this keeps two DPDK processes apart that would otherwise collide: DPDK 22.11's af_packet PMD
// joins each socket to PACKET_FANOUT group (pid XOR ifindex) & 0xffff, group ids are per network
// namespace, and a group already bound to another interface refuses the join (EINVAL), so a
// port of B failed to start whenever pid_a ^ pid_b equalled the XOR of two interface indexes.
//
// MTU: underlay 1500, VM endpoints and VM ports 1450, what VXLAN's 50 bytes (RFC 7348 section 4,
// outer Ethernet included) leave: full-size frames to K make 1514-byte outer frames, exactly the
// uplink's limit. GENEVE with its 8-byte option takes 62 bytes, so the A<->B path carries inner
// IP packets of at most 1438 bytes (GenevePathMtu); bigger ones are dropped as encap_exceeds_mtu
// (vswitchd does not fragment and sends no ICMP), which the GENEVE test shows at the boundary, and
// its TCP clamps the MSS to fit, as a tenant would for that path.
//
// Prefix "vso" + 5 hex digits; TopologyWorkspace removes what dead runs left behind.
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;

namespace VSwitch.Tests.Integration.SystemTests.Overlay;

/// <summary>One host's switch: its vswitchd's identity on the underlay and its VM endpoints.</summary>
public sealed class OverlayHost(string name, string shortName, string vtep, string overlayMac)
{
    public string Name { get; } = name;
    /// <summary>One letter: the uplink's link suffix (u + letter) and the DPDK file prefix suffix.</summary>
    public string Short { get; } = shortName;
    public string Vtep { get; } = vtep;
    public string OverlayMac { get; } = overlayMac;
    /// <summary>The root-namespace end of the uplink veth, vswitchd's net_af_packet0.</summary>
    public string UplinkInterface { get; set; } = "";
    /// <summary>The underlay-namespace end, a port of br0.</summary>
    public string UnderlayInterface { get; set; } = "";
    /// <summary>Where this host's vswitchd and the switch ends of its veths live; null: the root namespace.</summary>
    public NetworkNamespace? Ns { get; set; }
    public List<Endpoint> Vms { get; } = [];
    public string FilePrefix { get; set; } = "";
    public string ControlSocket { get; set; } = "";

    public override string ToString() => Name;
}

public sealed class OverlayTopology : IAsyncLifetime
{
    public const string UnderlayPrefix = "192.168.50";
    public const int UnderlayPrefixLength = 24;
    public const int UnderlayMtu = 1500;
    public const int TenantMtu = 1450;
    /// <summary>The largest inner IP packet the A<->B tunnel carries: 1500 - 20 (IPv4) - 8 (UDP) - 8 (GENEVE) - 12 (the option's header and data) - 14 (inner Ethernet) = 1438.</summary>
    public static readonly int GenevePathMtu = UnderlayMtu - 20 - 8 - 8 - (4 + GeneveOptionData.Length / 2) - 14;
    public const int TenantPrefixLength = 24;
    public const int RedVni = 5001;
    public const int BlueVni = 5002;
    public const int VxlanPort = 4789;
    public const int GenevePort = 6081;
    public const string KernelVtep = UnderlayPrefix + ".3";
    public const string KernelVtepMac = "02:cc:00:00:00:03";
    /// <summary>The injector's own address on br0: an underlay host that is no VTEP.</summary>
    public const string InjectorIp = UnderlayPrefix + ".77";
    public const string InjectorMac = "02:ee:00:00:00:77";
    /// <summary>GENEVE option every A<->B frame carries (RFC 8926 section 3.5): class, type, 8 bytes of data.</summary>
    public const int GeneveOptionClass = 0x0102;
    public const int GeneveOptionType = 0x80;
    public const string GeneveOptionData = "0011223344556677";

    public OverlayHost A { get; } = new("host-a", "a", UnderlayPrefix + ".1", "02:aa:00:00:00:01");
    public OverlayHost B { get; } = new("host-b", "b", UnderlayPrefix + ".2", "02:aa:00:00:00:02");
    public IReadOnlyList<OverlayHost> Hosts => [A, B];

    public Endpoint RedA { get; } = new("red-a", "red", "ra", "p-red-a", 1, "02:00:00:00:01:01", "10.0.0.1");
    public Endpoint BlueA { get; } = new("blue-a", "blue", "ba", "p-blue-a", 2, "02:00:00:00:01:01", "10.0.0.1");
    public Endpoint RedB { get; } = new("red-b", "red", "rb", "p-red-b", 1, "02:00:00:00:01:02", "10.0.0.2");
    public Endpoint BlueB { get; } = new("blue-b", "blue", "bb", "p-blue-b", 2, "02:00:00:00:01:02", "10.0.0.2");
    /// <summary>The kernel VTEP's tenant side: vx0 in K's namespace (no vswitchd port, no DPDK device).</summary>
    public Endpoint RedK { get; } = new("red-k", "red", "rk", "", -1, "02:00:00:00:01:03", "10.0.0.3");
    /// <summary>Every endpoint behind a vswitchd.</summary>
    public IReadOnlyList<Endpoint> VmEndpoints => [RedA, BlueA, RedB, BlueB];
    public IReadOnlyList<Endpoint> Endpoints => [RedA, BlueA, RedB, BlueB, RedK];

    public NetworkNamespace Underlay { get; private set; } = null!;
    public NetworkNamespace Kernel => RedK.Ns;
    /// <summary>K's underlay interface (inside Kernel), the VXLAN device's lower device.</summary>
    public string KernelUnderlayInterface => $"{Prefix}-k-v";
    public const string KernelVxlanDevice = "vx0";
    public const string Bridge = "br0";

    private readonly TopologyWorkspace _workspace = new("/tmp/vswitch-overlaytest", "vso");
    public string Prefix => _workspace.Prefix;
    public string WorkDir => _workspace.WorkDir;
    /// <summary>peer.py (PeerScripts): the VMs' agents and helpers, the sentinels, and the underlay's injector.</summary>
    public string PeerScript => _workspace.PathOf("peer.py");

    public OverlayTopology()
    {
        A.Vms.AddRange([RedA, BlueA]);
        B.Vms.AddRange([RedB, BlueB]);
    }

    public OverlayHost HostOf(Endpoint e) => Hosts.SingleOrDefault(h => h.Vms.Contains(e)) ?? throw new ArgumentException($"{e} is behind no vswitchd");

    /// <summary>
    /// Same-tenant endpoints a frame from <paramref name="e"/> can reach: red-a with red-b and
    /// red-k, blue-a with blue-b. red-b and red-k have no tunnel between them (B does not know K).
    /// </summary>
    public IReadOnlyList<Endpoint> ReachableFrom(Endpoint e) => Endpoints.Where(o => o != e && o.Tenant == e.Tenant && Connected(e, o)).ToList();

    private bool Connected(Endpoint x, Endpoint y) => !(x == RedK && y == RedB || x == RedB && y == RedK);

    public void Log(string line) => TestOutput.Write(TestContext.Current.TestOutputHelper is null ? line : $"{DateTime.UtcNow:HH:mm:ss.fff} {line}");

    public void KeepArtifacts() => _workspace.Keep();

    public async ValueTask InitializeAsync()
    {
        await Prerequisites.RequireRootAndToolsAsync("The overlay system test (network namespaces, a kernel VXLAN VTEP, two vswitchd on af_packet)",
            Prerequisites.NetworkTestTools);
        RepoPaths.Vswitchd();
        await _workspace.ClaimAsync(line => Log($"overlay system test: {line}"));
        await File.WriteAllTextAsync(PeerScript, PeerScripts.Python);
        foreach (OverlayHost h in Hosts)
        {
            h.FilePrefix = Prefix + h.Short;
            h.ControlSocket = Path.Combine(WorkDir, $"{h.Short}.sock");
        }
        try
        {
            await CreateUnderlayAsync();
            B.Ns = await NetworkNamespace.CreateAsync($"{Prefix}-hb");
            await DisableIpv6Async(B.Ns);
            foreach (OverlayHost h in Hosts)
            {
                await CreateUplinkAsync(h);
                foreach (Endpoint e in h.Vms)
                    await CreateVmAsync(e, h);
            }
            await CreateKernelVtepAsync();
        }
        catch
        {
            await TearDownAsync();
            throw;
        }
        Log($"overlay topology {Prefix} up: underlay {Underlay}/{Bridge}, kernel VTEP {Kernel}, " +
            string.Join(", ", VmEndpoints.Select(e => $"{e.Name}={e.Ns}/{e.VmInterface}<->{e.SwitchInterface}")));
    }

    private async Task CreateUnderlayAsync()
    {
        Underlay = await NetworkNamespace.CreateAsync($"{Prefix}-ul");
        await DisableIpv6Async(Underlay);
        // No multicast snooping: with it the bridge joins 224.0.0.106 (all-snoopers, RFC 4286) and
        // sends an IGMP report onto every port, which reached the uplinks now and then as a frame
        // no test had planned for.
        await Underlay.RunCheckedAsync("ip", "link", "add", Bridge, "address", InjectorMac, "mtu", UnderlayMtu.ToString(), "type", "bridge",
            "stp_state", "0", "mcast_snooping", "0");
        await Underlay.SysctlAsync($"net.ipv6.conf.{Bridge}.disable_ipv6", "1");
        // The injector sends from the bridge device; an address makes it a real underlay host
        // (which no VTEP knows), and arp off keeps the bridge itself from answering or asking.
        await Underlay.RunCheckedAsync("ip", "addr", "add", $"{InjectorIp}/{UnderlayPrefixLength}", "dev", Bridge);
        await Underlay.RunCheckedAsync("ip", "link", "set", Bridge, "arp", "off", "up");
    }

    /// <summary>A veth from the root namespace (vswitchd's uplink) to a port of the underlay bridge.</summary>
    private async Task CreateUplinkAsync(OverlayHost h)
    {
        h.UplinkInterface = $"{Prefix}-u{h.Short}";
        h.UnderlayInterface = $"{h.UplinkInterface}-u";
        await SystemTopology.RunInAsync(h.Ns, "ip", "link", "add", h.UplinkInterface, "type", "veth", "peer", "name", h.UnderlayInterface, "netns", Underlay.Name);
        await SystemTopology.QuietSwitchEndAsync(h.Ns, h.UplinkInterface, UnderlayMtu);
        await Underlay.SysctlAsync($"net.ipv6.conf.{h.UnderlayInterface}.disable_ipv6", "1");
        await Underlay.RunCheckedAsync("ethtool", Ip.EthtoolOffloadsOffArgs(h.UnderlayInterface));
        await Underlay.RunCheckedAsync("ip", "link", "set", h.UnderlayInterface, "mtu", UnderlayMtu.ToString(), "master", Bridge, "up");
    }

    private async Task CreateVmAsync(Endpoint e, OverlayHost h) => await SystemTopology.CreateVmAsync(e, $"{Prefix}-{e.Short}", h.Ns, TenantMtu);

    /// <summary>
    /// Host K: the kernel's VXLAN device for red's VNI, flooding (all-zero MAC entry) to A's VTEP
    /// only; red-k's address sits on vx0 itself. The kernel resolves A's VTEP by ARP on the underlay.
    /// </summary>
    private async Task CreateKernelVtepAsync()
    {
        string underlaySide = $"{Prefix}-k-u";
        RedK.Ns = await NetworkNamespace.CreateAsync($"{Prefix}-k");
        RedK.VmInterface = KernelVxlanDevice;
        await DisableIpv6Async(RedK.Ns);
        await Underlay.RunCheckedAsync("ip", "link", "add", underlaySide, "type", "veth", "peer", "name", KernelUnderlayInterface, "netns", Kernel.Name);
        await Underlay.SysctlAsync($"net.ipv6.conf.{underlaySide}.disable_ipv6", "1");
        await Underlay.RunCheckedAsync("ethtool", Ip.EthtoolOffloadsOffArgs(underlaySide));
        await Underlay.RunCheckedAsync("ip", "link", "set", underlaySide, "mtu", UnderlayMtu.ToString(), "master", Bridge, "up");

        await Kernel.RunCheckedAsync("ethtool", Ip.EthtoolOffloadsOffArgs(KernelUnderlayInterface));
        await Kernel.RunCheckedAsync("ip", "link", "set", KernelUnderlayInterface, "address", KernelVtepMac, "mtu", UnderlayMtu.ToString(), "up");
        await Kernel.RunCheckedAsync("ip", "addr", "add", $"{KernelVtep}/{UnderlayPrefixLength}", "dev", KernelUnderlayInterface);
        await Kernel.RunCheckedAsync("ip", "link", "add", KernelVxlanDevice, "type", "vxlan", "id", RedVni.ToString(), "local", KernelVtep,
            "dstport", VxlanPort.ToString(), "dev", KernelUnderlayInterface);
        await Kernel.RunCheckedAsync("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", KernelVxlanDevice, "dst", A.Vtep);
        await Kernel.SysctlAsync($"net.ipv6.conf.{KernelVxlanDevice}.disable_ipv6", "1");
        await Kernel.RunCheckedAsync("ethtool", Ip.EthtoolOffloadsOffArgs(KernelVxlanDevice));
        await Kernel.RunCheckedAsync("ip", "link", "set", KernelVxlanDevice, "address", RedK.Mac, "mtu", TenantMtu.ToString(), "up");
        await Kernel.RunCheckedAsync("ip", "addr", "add", $"{RedK.Ipv4}/{TenantPrefixLength}", "brd", "+", "dev", KernelVxlanDevice);
        await SystemTopology.HoldNeighboursAsync(Kernel, KernelUnderlayInterface);
        await SystemTopology.HoldNeighboursAsync(Kernel, KernelVxlanDevice);
    }

    private static async Task DisableIpv6Async(NetworkNamespace ns)
    {
        await ns.SysctlAsync("net.ipv6.conf.all.disable_ipv6", "1");
        await ns.SysctlAsync("net.ipv6.conf.default.disable_ipv6", "1");
    }

    /// <summary>Empties every neighbour cache a run depends on: the VMs', and K's (tenant and underlay side).</summary>
    public async Task FlushNeighboursAsync()
    {
        foreach (Endpoint e in Endpoints)
            await e.Ns.RunCheckedAsync("ip", "neigh", "flush", "dev", e.VmInterface);
        await Kernel.RunCheckedAsync("ip", "neigh", "flush", "dev", KernelUnderlayInterface);
    }

    public async ValueTask DisposeAsync() => await TearDownAsync();

    private Task TearDownAsync() => _workspace.ReleaseAsync();
}
