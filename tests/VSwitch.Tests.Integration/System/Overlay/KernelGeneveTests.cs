// GENEVE (RFC 8926) against the Linux kernel's own GENEVE device as the remote host: the other
// real peer the overlay has besides the kernel's VXLAN (OverlaySystemTests) and a second vswitchd.
// These machines' kernel has no geneve module, so this test belongs to the KVM lane, which boots
// a stock Debian kernel that has it (tests/kvm/sandbox loads geneve and veth) and runs the tests
// with trait Lane=GuestKernel there; the suite's own integration run leaves them out.
//
//   ns <P>-ra [<P>-ra-v red-a 02:00:00:00:01:01 10.0.0.1, MTU 1450] == <P>-ra == vswitchd p-red-a
//   vswitchd uplink0 (VTEP 192.168.70.1, 02:aa:00:00:00:01) == <P>-k == [<P>-k-v 192.168.70.2
//     02:cc:00:00:00:02] ns <P>-k, with gnv0: GENEVE VNI 5001 to 192.168.70.1, red-k
//     02:00:00:00:01:03 10.0.0.3, MTU 1450
//
// One run: vswitchd starts with an empty neighbour table and resolves K's VTEP by ARP; pings
// both ways, DF pings of the full 1450 bytes both ways (1514-byte GENEVE frames), TCP both
// ways; then every GENEVE frame on the wire, each side's, is dissected by tshark and counted
// against vswitchd's tunnel counters. vswitchd runs on one core (the sandbox has one CPU).
//
// Run it by hand inside the sandbox:
//   tests/kvm/sandbox -- dotnet tests/VSwitch.Tests.Integration/bin/Release/net10.0/VSwitch.Tests.Integration.dll -trait Lane=GuestKernel
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;
using static VSwitch.Tests.Integration.SystemTests.DataplaneSystemTests;
using static VSwitch.Tests.Integration.SystemTests.Overlay.OverlaySystemTests;

namespace VSwitch.Tests.Integration.SystemTests.Overlay;

[Trait("Lane", "GuestKernel")]
public sealed class KernelGeneveTests(KernelGeneveTopology t) : IClassFixture<KernelGeneveTopology>
{
    private const int Vni = KernelGeneveTopology.Vni;
    private const int GenevePort = KernelGeneveTopology.GenevePort;
    /// <summary>Every full-size GENEVE frame on this 1500-byte underlay (no options: 50 bytes of outer headers).</summary>
    private const int FullFrame = KernelGeneveTopology.UnderlayMtu + EthernetHeader;
    /// <summary>Smaller than the two-vswitchd tests' 200 kB: every byte crosses an emulated CPU here.</summary>
    private const int TcpBytes = 100_000;
    /// <summary>Generous: .NET, DPDK and every helper run on one emulated CPU in the sandbox.</summary>
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Kernel_GENEVE_resolves_pings_and_TCP_both_ways_full_size_frames_wire_dissected_by_tshark()
    {
        try
        {
            await RunAsync();
        }
        catch
        {
            t.Workspace.Keep();
            throw;
        }
    }

    private async Task RunAsync()
    {
        Endpoint a = t.RedA, k = t.RedK;
        var peers = new PeerHelpers(t.PeerScript, t.Workspace.PathOf);
        await using var toK = await PacketCapture.StartAsync("to-k", k.Ns, t.KernelUnderlayInterface, t.Workspace.PathOf("to-k.pcap"), CaptureDirection.In);
        await using var fromK = await PacketCapture.StartAsync("from-k", k.Ns, t.KernelUnderlayInterface, t.Workspace.PathOf("from-k.pcap"), CaptureDirection.Out);
        await using VswitchdProcess vswitchd = await VswitchdProcess.StartAsync(await t.WriteVswitchdConfigAsync(), t.Workspace.Prefix, t.ControlSocket,
            VswitchdReady.ControlSocket);

        JsonObject neighbour = await WaitForResolvedAsync(vswitchd);
        ProcessResult aToK = await PingAsync(a, k.Ipv4, PingCount, "ra-k"u8);
        ProcessResult kToA = await PingAsync(k, a.Ipv4, PingCount, "rk-a"u8);
        ProcessResult fullAToK = await PingAsync(a, k.Ipv4, 3, "ra-full"u8, ipSize: KernelGeneveTopology.TenantMtu);
        ProcessResult fullKToA = await PingAsync(k, a.Ipv4, 3, "rk-full"u8, ipSize: KernelGeneveTopology.TenantMtu);
        var tcp = new List<TcpOutcome>
        {
            await TcpAsync(peers.Start, t.PeerScript, client: a, server: k, TcpBytes, timeout: StepTimeout),
            await TcpAsync(peers.Start, t.PeerScript, client: k, server: a, TcpBytes, timeout: StepTimeout),
        };
        await peers.StopAllAsync();
        var sent = (await toK.StopAsync()).Select(FrameFacts.Parse).ToList();
        var received = (await fromK.StopAsync()).Select(FrameFacts.Parse).ToList();
        VswitchdCounters counters = VswitchdCounters.Parse(await vswitchd.StopAsync(VswitchdStop.Sigterm, StepTimeout));

        var expect = new ExpectedCounts("vswitchd against the kernel's GENEVE");
        expect.True((string?)neighbour["state"] == "resolved" && (string?)neighbour["mac"] == KernelGeneveTopology.KernelVtepMac,
            $"vswitchd's entry for K's VTEP is not 'resolved' with K's MAC {KernelGeneveTopology.KernelVtepMac}: {neighbour.ToJsonString()}");
        expect.AtLeast("ARP requests vswitchd sent for K's VTEP", 1, sent.Count(f => f.IsArpRequest && $"{f.ArpTargetIp}" == KernelGeneveTopology.KernelVtep));
        CheckPing(expect, aToK, PingCount, PingCount);
        CheckPing(expect, kToA, PingCount, PingCount);
        CheckPing(expect, fullAToK, 3, 3);
        CheckPing(expect, fullKToA, 3, 3);
        CheckTcp(expect, tcp);
        expect.Equal("longest GENEVE frame vswitchd sent", FullFrame, LongestTunnelFrame(sent, GenevePort));
        expect.Equal("longest GENEVE frame the kernel sent", FullFrame, LongestTunnelFrame(received, GenevePort));

        // Both directions dissected by tshark: outer addresses, a good IPv4 checksum, port 6081,
        // VNI 5001, version 0, Ethernet inside (0x6558); DF on vswitchd's frames (the kernel's
        // device leaves DF clear by default, which vswitchd accepts: only fragments are refused).
        foreach ((string capture, string from, string to, string fromMac, bool df) in new[]
        {
            ("to-k.pcap", KernelGeneveTopology.Vtep, KernelGeneveTopology.KernelVtep, KernelGeneveTopology.OverlayMac, true),
            ("from-k.pcap", KernelGeneveTopology.KernelVtep, KernelGeneveTopology.Vtep, KernelGeneveTopology.KernelVtepMac, false),
        })
        {
            IReadOnlyList<string[]> rows = await TsharkFields.ReadAsync(t.Workspace.PathOf(capture), $"udp.dstport == {GenevePort}",
                "ip.src", "ip.dst", "ip.flags.df", "ip.checksum.status", "geneve.vni", "geneve.proto_type", "eth.src", "geneve.version");
            expect.AtLeast($"GENEVE frames in {capture}", 2 * PingCount + 6, rows.Count);
            foreach (string[] f in rows)
            {
                bool ok = f[1] == from && f[2] == to && (!df || f[3] is "1" or "True") && f[4] == "1" && TsharkFields.Vni(f[5]) == Vni
                    && f[6] == "0x6558" && f[7] == fromMac && f[8] == "0";
                expect.True(ok, $"{capture}: GENEVE frame {f[0]} is not {fromMac}/{from} -> {to}{(df ? ", DF" : "")}, good IPv4 checksum, " +
                    $"VNI {Vni}, version 0, Ethernet inside: {string.Join(" | ", f)}");
            }
        }

        // vswitchd counted exactly what the wire carried, dropped nothing, allocated nothing.
        JsonObject tunnel = counters.Raw["tunnels"]![KernelGeneveTopology.KernelHost]!.AsObject();
        expect.Equal("tunnels.host-k.encap == GENEVE frames vswitchd sent", sent.Count(f => f.UdpDestinationPort == GenevePort), (long)tunnel["encap"]!);
        expect.Equal("tunnels.host-k.decap == GENEVE frames the kernel sent", received.Count(f => f.UdpDestinationPort == GenevePort), (long)tunnel["decap"]!);
        expect.Equal("drops (every reason)", 0, counters.TotalDrops);
        foreach (JsonNode? w in counters.Raw["workers"]!.AsArray())
        {
            expect.Equal($"worker {w!["index"]} allocated_bytes", 0, (long)w["allocated_bytes"]!);
            expect.Equal($"worker {w["index"]} jit_methods", 0, (long)w["jit_methods"]!);
        }
        t.Log($"kernel GENEVE: {expect.Summary().Replace("\n", "\n    ")}");
        expect.Verify(() => $"captures and logs in {t.Workspace.WorkDir} (kept on failure)\ncounters: {counters}");
    }

    /// <summary>vswitchd asks for every next hop as it starts and retries once a second until answered.</summary>
    private static async Task<JsonObject> WaitForResolvedAsync(VswitchdProcess vswitchd)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            JsonArray table = (await vswitchd.OpAsync("neighbours"))["neighbours"]!.AsArray();
            JsonObject? entry = table.OfType<JsonObject>().FirstOrDefault(n => (string?)n["ip"] == KernelGeneveTopology.KernelVtep);
            if ((string?)entry?["state"] == "resolved" || clock.Elapsed > StepTimeout)
                return entry ?? new JsonObject { ["ip"] = KernelGeneveTopology.KernelVtep, ["state"] = "(absent)", ["table"] = table.DeepClone() };
            await Task.Delay(100);
        }
    }
}

/// <summary>The kernel GENEVE test's world: one VM behind vswitchd and the kernel VTEP K, joined by one veth.</summary>
public sealed class KernelGeneveTopology : IAsyncLifetime
{
    public const string Vtep = "192.168.70.1";
    public const string OverlayMac = "02:aa:00:00:00:01";
    public const string KernelVtep = "192.168.70.2";
    public const string KernelVtepMac = "02:cc:00:00:00:02";
    public const string KernelHost = "host-k";
    public const int UnderlayMtu = 1500;
    /// <summary>GENEVE without options takes 50 bytes, as VXLAN does: 1450 fills a 1500-byte underlay.</summary>
    public const int TenantMtu = 1450;
    public const int Vni = 5001;
    public const int GenevePort = 6081;
    private const string UplinkPort = "uplink0";
    private const string GeneveDevice = "gnv0";

    public TopologyWorkspace Workspace { get; } = new("/tmp/vswitch-genevetest", "vsg");
    public string PeerScript => Workspace.PathOf("peer.py");
    public Endpoint RedA { get; } = new("red-a", "red", "ra", "p-red-a", 1, "02:00:00:00:01:01", "10.0.0.1");
    /// <summary>The kernel VTEP's tenant side: gnv0 in K's namespace.</summary>
    public Endpoint RedK { get; } = new("red-k", "red", "rk", "", -1, "02:00:00:00:01:03", "10.0.0.3");
    /// <summary>vswitchd's uplink: the root-namespace end of the veth to K.</summary>
    public string UplinkInterface => $"{Workspace.Prefix}-k";
    /// <summary>K's end of that veth, the GENEVE device's underlay.</summary>
    public string KernelUnderlayInterface => $"{Workspace.Prefix}-k-v";

    public void Log(string line) => TestOutput.Write(line);

    public async ValueTask InitializeAsync()
    {
        await Prerequisites.RequireRootAndToolsAsync("The kernel GENEVE test (network namespaces, the kernel's GENEVE device, vswitchd on af_packet)",
            Prerequisites.NetworkTestTools);
        RepoPaths.Vswitchd();
        await Workspace.ClaimAsync(line => Log($"kernel GENEVE test: {line}"));
        await File.WriteAllTextAsync(PeerScript, PeerScripts.Python);
        try
        {
            await SystemTopology.CreateVmAsync(RedA, $"{Workspace.Prefix}-{RedA.Short}", null, TenantMtu);
            await CreateKernelVtepAsync();
        }
        catch
        {
            await Workspace.ReleaseAsync();
            throw;
        }
    }

    private async Task CreateKernelVtepAsync()
    {
        NetworkNamespace k = RedK.Ns = await NetworkNamespace.CreateAsync($"{Workspace.Prefix}-k");
        RedK.VmInterface = GeneveDevice;
        await k.SysctlAsync("net.ipv6.conf.all.disable_ipv6", "1");
        await k.SysctlAsync("net.ipv6.conf.default.disable_ipv6", "1");
        await Ip.RunAsync("link", "add", UplinkInterface, "type", "veth", "peer", "name", KernelUnderlayInterface, "netns", k.Name);
        await SystemTopology.QuietSwitchEndAsync(null, UplinkInterface, UnderlayMtu);
        await k.RunCheckedAsync("ethtool", Ip.EthtoolOffloadsOffArgs(KernelUnderlayInterface));
        await k.RunCheckedAsync("ip", "link", "set", KernelUnderlayInterface, "address", KernelVtepMac, "mtu", UnderlayMtu.ToString(), "up");
        await k.RunCheckedAsync("ip", "addr", "add", $"{KernelVtep}/24", "dev", KernelUnderlayInterface);
        ProcessResult geneve = await k.RunAsync("ip", "link", "add", GeneveDevice, "type", "geneve", "id", Vni.ToString(), "remote", Vtep, "dstport", GenevePort.ToString());
        if (!geneve.Succeeded)
        {
            throw new InvalidOperationException($"this kernel ({Environment.OSVersion.Version}) cannot make a GENEVE device: run this test in the " +
                $"KVM lane (tests/kvm/run-lane), whose Debian guest kernel has the geneve module.{geneve.Describe()}");
        }
        await k.RunCheckedAsync("ethtool", Ip.EthtoolOffloadsOffArgs(GeneveDevice));
        await k.RunCheckedAsync("ip", "link", "set", GeneveDevice, "address", RedK.Mac, "mtu", TenantMtu.ToString(), "up");
        await k.RunCheckedAsync("ip", "addr", "add", $"{RedK.Ipv4}/24", "brd", "+", "dev", GeneveDevice);
        await SystemTopology.HoldNeighboursAsync(k, KernelUnderlayInterface);
        await SystemTopology.HoldNeighboursAsync(k, GeneveDevice);
    }

    /// <summary>
    /// Writes vswitchd's configuration and returns its path. One core: vswitchd's main lcore and
    /// its worker share the sandbox's only CPU (the worker sleeps when a poll finds nothing).
    /// </summary>
    public async Task<string> WriteVswitchdConfigAsync()
    {
        JsonObject json = new VswitchdConfig(
            FilePrefix: Workspace.Prefix,
            Ports: [new VswitchdPort(UplinkPort, $"net_af_packet0,iface={UplinkInterface}", "uplink", UnderlayMtu),
                    new VswitchdPort(RedA.PortName, RedA.Devargs, "vm", TenantMtu)],
            Tenants: [new VswitchdTenant(RedA.Tenant, [new VswitchdVm(RedA.Name, RedA.PortName, RedA.Mac, [RedA.Ipv4])])],
            WorkerCores: [0],
            ControlSocket: ControlSocket,
            MemoryMegabytes: 256,
            EalCores: "0").ToJson();
        json["overlay"] = new JsonObject
        {
            ["uplink"] = UplinkPort,
            ["vtep"] = $"{Vtep}/24",
            ["mac"] = OverlayMac,
            ["remote_hosts"] = new JsonArray(new JsonObject { ["name"] = KernelHost, ["vtep"] = KernelVtep, ["tunnel"] = "geneve" }),
        };
        JsonObject red = json["tenants"]![0]!.AsObject();
        red["vni"] = Vni;
        red["remote_vms"] = new JsonArray(new JsonObject
        {
            ["name"] = RedK.Name,
            ["host"] = KernelHost,
            ["mac"] = RedK.Mac,
            ["ipv4"] = new JsonArray(RedK.Ipv4),
        });
        string path = Workspace.PathOf("vswitchd.json");
        await File.WriteAllTextAsync(path, json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    public string ControlSocket => Workspace.PathOf("vswitchd.sock");

    public async ValueTask DisposeAsync() => await Workspace.ReleaseAsync();
}
