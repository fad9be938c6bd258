// The overlay against real peers (RFC 7348 VXLAN, RFC 8926 GENEVE): vswitchd A tunnels to the
// Linux kernel's VXLAN device (host K) and to a second vswitchd (host B) over a Linux bridge;
// topology in OverlayTopology.cs. Tenants red and blue overlap on purpose (same MACs, same IPs).
// Each test is one run of both vswitchds (fresh neighbour tables and counters) over the shared
// topology, and asserts exact numbers from both switches' exit counters and from captures at
// every endpoint, on every uplink and on K's underlay interface:
//   1. interop with the kernel's VXLAN: ping and 200 kB TCP both ways, VTEPs resolved by ARP;
//   2. two vswitchds over GENEVE: ping and TCP per tenant, the wire dissected by tshark;
//   3. isolation: every endpoint sends every kind of frame to every other, and forged tunnel
//      frames from the underlay (unknown VTEP, wrong VTEP, unknown VNI, wrong tunnel type, a
//      VNI or inner source the sending host has no VM for, an unknown critical GENEVE option);
//   4. the workers allocate nothing on any of those paths.
//
// Needs root, iproute2, ethtool, tcpdump, iputils-ping, python3-scapy and tshark, and a built vswitchd:
//   dotnet build VSwitch.sln -c Release
//   dotnet tests/VSwitch.Tests.Integration/bin/Release/net10.0/VSwitch.Tests.Integration.dll -class '*OverlaySystemTests'
// A failed run keeps its captures, plans, configs and vswitchd logs in /tmp/vswitch-overlaytest/<prefix>/.
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VSwitch.Tests.Integration.Infrastructure;
using VSwitch.Tests.Integration.Pcap;
using Xunit;
using static VSwitch.Tests.Integration.SystemTests.DataplaneSystemTests;
using static VSwitch.Tests.Integration.SystemTests.FramePlans;

namespace VSwitch.Tests.Integration.SystemTests.Overlay;

public sealed class OverlaySystemTests(OverlayTopology topology) : IClassFixture<OverlayTopology>
{
    /// <summary>Frames per crafted kind: more than one, so "exactly N" means something.</summary>
    private const int N = 3;
    internal const int PingCount = 5;
    /// <summary>About 140 full segments at MSS 1410 (tenant MTU 1450): a lost or mangled segment, or one the tunnel cannot carry, would show.</summary>
    internal const int TcpBytes = 200_000;
    /// <summary>IPv4 (20) and TCP (20) headers without options: MSS = MTU - 40.</summary>
    internal const int TcpIpHeaders = 40;
    /// <summary>An ICMP echo's IPv4 (20) and ICMP (8) headers: ping -s takes the rest.</summary>
    internal const int IcmpIpHeaders = 28;
    internal const int EthernetHeader = 14;
    /// <summary>The longest frame a 1500-byte underlay carries: every full-size tunnel frame is exactly this long.</summary>
    internal const int FullUnderlayFrame = OverlayTopology.UnderlayMtu + EthernetHeader;
    internal const int TcpPort = 5001;
    internal static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(10);
    /// <summary>A VNI no tenant has.</summary>
    private const int UnknownVni = 7777;
    /// <summary>An underlay address that is no VTEP, used as a forged destination.</summary>
    private const string WrongVtep = OverlayTopology.UnderlayPrefix + ".9";

    private OverlayTopology T => topology;

    // ---------------------------------------------------------------------------------------
    // 1. Interop with the Linux kernel's VXLAN: ping and TCP both ways, both sides resolve by ARP.
    // ---------------------------------------------------------------------------------------
    [Fact]
    public async Task Kernel_VXLAN_ping_and_TCP_both_ways_VTEPs_resolved_by_ARP()
    {
        await Guard(async () =>
        {
            await using OverlayRun run = await OverlayRun.StartAsync(T, "kernel-vxlan");
            Endpoint a = T.RedA, k = T.RedK;
            var expect = new ExpectedCounts("interop with the kernel's VXLAN");

            // A's ARP request for K's VTEP at its start taught K's kernel A's MAC as well (RFC 826's
            // merge step): forget it, so that K has to ask, and A has to answer for its VTEP.
            await T.Kernel.RunCheckedAsync("ip", "neigh", "flush", "dev", T.KernelUnderlayInterface);
            string kernelNeighbours = (await T.Kernel.RunCheckedAsync("ip", "neigh", "show", "dev", T.KernelUnderlayInterface)).Stdout;
            expect.True(!kernelNeighbours.Contains(T.A.Vtep, StringComparison.Ordinal), $"K still knows host-a's VTEP after the flush: {kernelNeighbours}");

            // Every next hop is resolved before a run's traffic (OverlayRun.StartAsync); should a
            // frame toward K still find no entry, it is dropped as neighbour_unresolved, counted below.
            ProcessResult resolving = await PingAsync(a, k.Ipv4, 3, "resolve"u8);
            JsonObject resolved = await run.WaitForNeighbourAsync(T.A, OverlayTopology.KernelVtep);
            JsonArray table = await run.NeighboursAsync(T.A);

            ProcessResult aToK = await PingAsync(a, k.Ipv4, PingCount, "a-to-k"u8);
            ProcessResult kToA = await PingAsync(k, a.Ipv4, PingCount, "k-to-a"u8);
            var tcp = new List<TcpOutcome>
            {
                await TcpAsync(run, client: a, server: k),
                await TcpAsync(run, client: k, server: a),
            };
            string kernelAfter = (await T.Kernel.RunCheckedAsync("ip", "neigh", "show", "dev", T.KernelUnderlayInterface)).Stdout;
            OverlayResult r = await run.FinishAsync();

            expect.True(Regex.IsMatch(resolving.Stdout, @"3 packets transmitted, [1-3] received"), $"the resolving ping got no answer at all:{resolving.Describe()}");
            expect.True((string?)resolved["state"] == "resolved" && (string?)resolved["mac"] == OverlayTopology.KernelVtepMac,
                $"host-a's entry for K's VTEP is not 'resolved' with K's MAC {OverlayTopology.KernelVtepMac}: {resolved.ToJsonString()}");
            expect.True(Regex.IsMatch(kernelAfter, $@"^{Regex.Escape(T.A.Vtep)} lladdr {T.A.OverlayMac} (REACHABLE|STALE|DELAY|PROBE)", RegexOptions.Multiline),
                $"K's kernel did not resolve host-a's VTEP {T.A.Vtep} to the overlay MAC {T.A.OverlayMac}: '{kernelAfter.Trim()}'");
            CheckPing(expect, aToK, PingCount, PingCount);
            CheckPing(expect, kToA, PingCount, PingCount);
            CheckTcp(expect, tcp);
            // TCP at the tenant MTU (1450, MSS 1410) fills the underlay exactly, both ways.
            expect.Equal("longest VXLAN frame host-a sent to K", FullUnderlayFrame, LongestTunnelFrame(r.Wire(T.A), OverlayTopology.VxlanPort));
            expect.Equal("longest VXLAN frame K sent to host-a", FullUnderlayFrame, LongestTunnelFrame(r.FromWire(T.A), OverlayTopology.VxlanPort));

            // Resolution happened in this run, by ARP on the underlay (a fresh vswitchd with no
            // static neighbours; it asks for every next hop as it starts): A asked for K's VTEP
            // from its overlay MAC, K answered from its MAC; K asked for A's VTEP (after the
            // flush), A answered from the overlay MAC.
            expect.Equal("host-a's neighbour entries (host-b and K)", 2, table.Count);
            expect.AtLeast("ARP replies K sent for its VTEP to host-a's overlay MAC", 1, r.Frames[OverlayRun.KernelWireKey].Count(f =>
                f.IsArpReply && $"{f.ArpSenderIp}" == OverlayTopology.KernelVtep && f.ArpSenderMac == OverlayTopology.KernelVtepMac && f.Destination == T.A.OverlayMac));
            expect.AtLeast("ARP requests K sent for host-a's VTEP", 1, r.Frames[OverlayRun.KernelWireKey].Count(f => f.IsArpRequest && $"{f.ArpTargetIp}" == T.A.Vtep));
            expect.Equal("ARP replies host-a sent == K's requests for its VTEP",
                r.FromWire(T.A).Count(f => f.IsArpRequest && $"{f.ArpTargetIp}" == T.A.Vtep),
                r.Wire(T.A).Count(f => f.IsArpReply && $"{f.ArpSenderIp}" == T.A.Vtep && f.ArpSenderMac == T.A.OverlayMac && f.Source == T.A.OverlayMac));
            expect.AtLeast("ARP requests host-a sent for K's VTEP", 1, r.Wire(T.A).Count(f => f.IsArpRequest && $"{f.ArpTargetIp}" == OverlayTopology.KernelVtep));
            // Every frame A tunnelled is VXLAN to K (the kernel's tunnel type) or GENEVE to host-b
            // (the end-of-run frames only), from the overlay MAC to the resolved MAC.
            var tunnelled = r.Wire(T.A).Where(f => f.IpProtocol == FrameFacts.ProtocolUdp).ToList();
            expect.AtLeast("VXLAN frames host-a sent to K", 2 * PingCount, tunnelled.Count(f => f.UdpDestinationPort == OverlayTopology.VxlanPort));
            expect.Equal("UDP frames host-a sent that are neither VXLAN to K nor GENEVE to host-b", 0,
                tunnelled.Count(f => f.Source != T.A.OverlayMac
                    || !(f.UdpDestinationPort == OverlayTopology.VxlanPort && $"{f.Ipv4Destination}" == OverlayTopology.KernelVtep && f.Destination == OverlayTopology.KernelVtepMac
                        || f.UdpDestinationPort == OverlayTopology.GenevePort && $"{f.Ipv4Destination}" == T.B.Vtep && f.Destination == T.B.OverlayMac)));
            expect.Equal("frames K received from the underlay that it did not decapsulate or answer (vx0 got every VXLAN frame)",
                r.Frames[OverlayRun.KernelFromWireKey].Count(f => f.UdpDestinationPort == OverlayTopology.VxlanPort), r.Delivered(k).Count);

            // Nothing reached the other tenant or host-b's VMs.
            foreach (Endpoint at in new[] { T.BlueA, T.RedB, T.BlueB })
                expect.Equal($"frames at {at.Name} (besides sentinels)", 0, r.Delivered(at).Count(f => f.Marker is null));

            // Exactly the frames toward K that A could not yet send were dropped as unresolved.
            // Exactly the frames A could not tunnel were dropped as unresolved (none expected).
            long towardK = r.Sent(a).Count(f => f.Destination == k.Mac);
            long reachedK = r.Delivered(k).Count(f => f.Source == a.Mac && f.Destination == k.Mac);
            var dropsA = new Dictionary<string, long>();
            AddCounted(dropsA, "neighbour_unresolved", towardK - reachedK);
            AddCounted(dropsA, "uplink_not_tunnel", NotForThisHost(r, T.A));
            Finish(expect, r, run, dropsA, ExpectedDropsOf(r, T.B));
        });
    }

    // ---------------------------------------------------------------------------------------
    // 2. Two vswitchds over GENEVE: each tenant pings and exchanges TCP across hosts; the wire
    //    carries GENEVE with the configured option, re-dissected by tshark. The option leaves
    //    inner IP packets 1438 bytes: DF pings of exactly that size cross, one byte more are
    //    dropped as encap_exceeds_mtu, and TCP with the MSS clamped to that path fills the
    //    underlay to its last byte.
    // ---------------------------------------------------------------------------------------
    [Fact]
    public async Task Two_hosts_GENEVE_ping_and_TCP_per_tenant_wire_dissected_by_tshark()
    {
        await Guard(async () =>
        {
            await using OverlayRun run = await OverlayRun.StartAsync(T, "two-hosts");
            var pings = new List<(Endpoint From, Endpoint To, ProcessResult Ping)>();
            foreach ((Endpoint from, Endpoint to) in new[] { (T.RedA, T.RedB), (T.BlueB, T.BlueA), (T.BlueA, T.BlueB), (T.RedB, T.RedA) })
                pings.Add((from, to, await PingAsync(from, to.Ipv4, PingCount, PatternOf(from))));
            // The path MTU's boundary, from each side: the largest packet that fits, then one byte more.
            var boundary = new List<(Endpoint From, Endpoint To, int Size, ProcessResult Ping)>();
            foreach ((Endpoint from, Endpoint to) in new[] { (T.RedA, T.RedB), (T.BlueB, T.BlueA) })
            {
                foreach (int size in new[] { OverlayTopology.GenevePathMtu, OverlayTopology.GenevePathMtu + 1 })
                    boundary.Add((from, to, size, await PingAsync(from, to.Ipv4, PingCount, BoundaryPattern(from, size), ipSize: size)));
            }
            int clampedMss = OverlayTopology.GenevePathMtu - TcpIpHeaders;
            var tcp = new List<TcpOutcome>
            {
                await TcpAsync(run, client: T.RedA, server: T.RedB, clampedMss),
                await TcpAsync(run, client: T.BlueB, server: T.BlueA, clampedMss),
            };
            OverlayResult r = await run.FinishAsync();

            var expect = new ExpectedCounts("two hosts over GENEVE");
            var drops = T.Hosts.ToDictionary(h => h, h => ExpectedDropsOf(r, h));
            foreach ((Endpoint from, Endpoint to, int size, ProcessResult ping) in boundary)
            {
                bool fits = size <= OverlayTopology.GenevePathMtu;
                CheckPing(expect, ping, PingCount, fits ? PingCount : 0);
                expect.Equal($"{size}-byte echo requests of {from.Name} at {to.Name}", fits ? PingCount : 0,
                    r.Delivered(to).Count(f => f.IsIcmpEchoRequest && Contains(f.IcmpPayload, BoundaryPattern(from, size))));
                if (!fits)
                    drops[T.HostOf(from)]["encap_exceeds_mtu"] = drops[T.HostOf(from)].GetValueOrDefault("encap_exceeds_mtu") + PingCount;
            }
            foreach ((Endpoint from, Endpoint to, ProcessResult ping) in pings)
            {
                CheckPing(expect, ping, PingCount, PingCount);
                byte[] pattern = PatternOf(from);
                foreach (Endpoint at in T.Endpoints)
                {
                    expect.Equal($"echo requests of {from.Name} at {at.Name}", at == to ? PingCount : 0,
                        r.Delivered(at).Count(f => f.IsIcmpEchoRequest && Contains(f.IcmpPayload, pattern)));
                    expect.Equal($"echo replies for {from.Name} at {at.Name}", at == from ? PingCount : 0,
                        r.Delivered(at).Count(f => f.IsIcmpEchoReply && Contains(f.IcmpPayload, pattern)));
                }
            }
            CheckTcp(expect, tcp);
            expect.Equal("frames at red-k (besides sentinels)", 0, r.Delivered(T.RedK).Count(f => f.Marker is null && !f.IsArpRequest));
            foreach (OverlayHost h in T.Hosts)
                expect.Equal($"longest GENEVE frame {h.Name} sent", FullUnderlayFrame, LongestTunnelFrame(r.Wire(h), OverlayTopology.GenevePort));

            // Every tunnelled frame between A and B, dissected independently: GENEVE to 6081,
            // the tenant's VNI, the configured critical option, valid outer IPv4 checksum, DF, TTL.
            foreach (OverlayHost h in T.Hosts)
            {
                OverlayHost peer = h == T.A ? T.B : T.A;
                IReadOnlyList<string[]> rows = await TsharkFields.ReadAsync(run.FilePath($"{OverlayRun.WireKey(h)}.pcap"), $"udp.dstport == {OverlayTopology.GenevePort}",
                    "ip.src", "ip.dst", "ip.ttl", "ip.flags.df", "ip.checksum.status", "geneve.vni", "geneve.option.class", "geneve.option.type",
                    "geneve.option.unknown.data", "eth.src", "eth.dst", "geneve.flags.critical");
                expect.AtLeast($"GENEVE frames {h.Name} put on the wire", 2 * PingCount, rows.Count);
                foreach (string[] f in rows)
                {
                    bool ok = f[1] == h.Vtep && f[2] == peer.Vtep && f[3] == OverlayConfigs.Ttl.ToString() && f[4] is "1" or "True" && f[5] == "1"
                        && TsharkFields.Vni(f[6]) is OverlayTopology.RedVni or OverlayTopology.BlueVni
                        && f[7] == $"0x{OverlayTopology.GeneveOptionClass:x4}" && f[8] == $"0x{OverlayTopology.GeneveOptionType:x2}"
                        && f[9] == OverlayTopology.GeneveOptionData && f[10] == h.OverlayMac && f[11] == peer.OverlayMac && f[12] is "1" or "True";
                    expect.True(ok, $"{h.Name}: GENEVE frame {f[0]} is not {h.OverlayMac}/{h.Vtep} -> {peer.OverlayMac}/{peer.Vtep}, TTL {OverlayConfigs.Ttl}, DF, " +
                        $"good IPv4 checksum, red or blue VNI, option 0x0102/0x80 {OverlayTopology.GeneveOptionData} with the C flag: {string.Join(" | ", f)}");
                }
            }
            Finish(expect, r, run, drops[T.A], drops[T.B]);
        });
    }

    // ---------------------------------------------------------------------------------------
    // 3. Isolation: every endpoint sends every kind of frame to everyone, and the underlay
    //    injector forges tunnel frames; exact tallies at every endpoint and in both switches.
    // ---------------------------------------------------------------------------------------
    [Fact]
    public async Task Isolation_every_pair_and_forged_tunnel_frames_stay_inside_their_tenant()
    {
        await Guard(async () =>
        {
            await using OverlayRun run = await OverlayRun.StartAsync(T, "isolation");

            var plans = new Dictionary<Endpoint, List<JsonObject>>();
            var expected = new Dictionary<(string Label, Endpoint At), int>();
            foreach (Endpoint s in T.Endpoints)
            {
                var frames = new List<JsonObject>();
                IReadOnlyList<Endpoint> reach = T.ReachableFrom(s);
                foreach (Endpoint t in T.Endpoints.Where(t => t != s))
                {
                    // Addressed to t's MAC: in s's tenant, the endpoint with that MAC gets it if
                    // s can reach it; t itself never does when it is in the other tenant.
                    string label = Label(s, "uc", t);
                    frames.Add(Udp(label, N, s, t.Mac, t.Ipv4));
                    if (reach.FirstOrDefault(o => o.Mac == t.Mac) is { } owner)
                        expected[(label, owner)] = N;
                    if (t.Ipv4 == s.Ipv4)
                        continue;
                    string arp = Label(s, "arp", t);
                    frames.Add(ArpRequest(arp, N, s, t.Ipv4));
                    foreach (Endpoint at in ArpRequestReaches(s, t.Ipv4))
                        expected[(arp, at)] = N;
                }
                frames.Add(Udp(Label(s, "bcast"), N, s, Broadcast, BroadcastIpv4));
                frames.Add(Udp(Label(s, "unknown-uc"), N, s, UnknownMac, UnknownIpv4));
                // Unknown unicast from a vswitchd host never enters a tunnel (every remote MAC is
                // programmed), and no host has a second VM of a tenant: it reaches no one.
                foreach (Endpoint at in reach)
                    expected[(Label(s, "bcast"), at)] = N;
                plans[s] = frames;
            }
            await run.RunAgentsAsync(plans);

            var injections = Injections(out var injectionExpectations, out long forgedDrops);
            await run.InjectAsync(injections.Select(i => i.Frames).ToList());
            foreach (var kv in injectionExpectations)
                expected[kv.Key] = kv.Value;
            OverlayResult r = await run.FinishAsync();

            var expect = new ExpectedCounts("overlay isolation");
            var labels = plans.Values.SelectMany(f => f).Concat(injections.Select(i => i.Frames)).Select(f => (string)f["label"]!).ToList();
            foreach (string label in labels)
            {
                foreach (Endpoint at in T.Endpoints)
                    expect.Equal($"{label} at {at.Name}", expected.GetValueOrDefault((label, at)), r.DeliveredWithMarker(at, label));
            }
            foreach (Endpoint at in T.Endpoints)
            {
                expect.Equal($"frames from the other tenant at {at.Name}", 0,
                    r.Delivered(at).Count(f => f.Marker is not null && SenderOf(f.Marker) is { } sender && sender.Tenant != at.Tenant));
                var stray = r.Delivered(at).Where(f => f.Marker is not null && !labels.Contains(f.Marker) && !OverlayRun.IsRunMarker(f.Marker))
                    .Select(f => f.Marker).Distinct().ToList();
                expect.True(stray.Count == 0, $"{at.Name} got frames with unplanned markers: {string.Join(", ", stray)}");
            }
            // Nothing a VM sent left its host in a tunnel of the wrong tenant: the VNI on the wire
            // matches the sender's tenant for every marked frame (tshark dissects every uplink).
            foreach (OverlayHost h in T.Hosts)
            {
                IReadOnlyList<FrameFacts> wire = r.Wire(h);
                foreach (string[] f in await TsharkFields.ReadAsync(run.FilePath($"{OverlayRun.WireKey(h)}.pcap"), "vxlan || geneve", "vxlan.vni", "geneve.vni"))
                {
                    string? marker = wire[int.Parse(f[0]) - 1].Marker;
                    if (marker is null || SenderOf(marker) is not { } sender)
                        continue;
                    int tenantVni = sender.Tenant == "red" ? OverlayTopology.RedVni : OverlayTopology.BlueVni;
                    int? vni = TsharkFields.Vni(f[1]) ?? TsharkFields.Vni(f[2]);
                    expect.True(vni == tenantVni, $"{h.Name} tunnelled {marker} (from {sender.Name}) with VNI {vni}, not {tenantVni}");
                }
            }
            Finish(expect, r, run, ExpectedDropsA(r, forgedDrops), ExpectedDropsB(r));
        });
    }

    // ---------------------------------------------------------------------------------------
    // 4. The workers allocate nothing on any overlay path real peers drive: encapsulation to
    //    both tunnel types, head-end replication, decapsulation and its local flood, VTEP ARP,
    //    neighbour learning, and the drops of forged tunnel frames.
    // ---------------------------------------------------------------------------------------
    [Fact]
    public async Task Workers_allocate_nothing_on_every_overlay_path()
    {
        await Guard(async () =>
        {
            await using OverlayRun run = await OverlayRun.StartAsync(T, "allocation");
            var pings = new List<ProcessResult>
            {
                await PingAsync(T.RedA, T.RedB.Ipv4, PingCount, PatternOf(T.RedA)),
                await PingAsync(T.RedA, T.RedK.Ipv4, PingCount, PatternOf(T.RedA)),
                await PingAsync(T.BlueB, T.BlueA.Ipv4, PingCount, PatternOf(T.BlueB)),
            };
            await run.RunAgentsAsync(T.Endpoints.ToDictionary(s => s, s => new List<JsonObject>
            {
                Udp(Label(s, "bcast"), N, s, Broadcast, BroadcastIpv4),
                Udp(Label(s, "unknown-uc"), N, s, UnknownMac, UnknownIpv4),
            }));
            await run.InjectAsync(Injections(out _, out _).Select(i => i.Frames).ToList());
            OverlayResult r = await run.FinishAsync();

            var expect = new ExpectedCounts("worker allocation on the overlay paths");
            foreach (ProcessResult ping in pings)
                CheckPing(expect, ping, PingCount, PingCount);
            foreach (Endpoint s in T.Endpoints)
            {
                foreach (Endpoint at in T.Endpoints)
                    expect.Equal($"{Label(s, "bcast")} at {at.Name}", T.ReachableFrom(s).Contains(at) ? N : 0, r.DeliveredWithMarker(at, Label(s, "bcast")));
            }
            Injections(out _, out long forged);
            expect.AtLeast("frames host-a dropped (the forged ones among them)", forged, r.Counters[T.A].TotalDrops);
            r.CheckWorkersAllocatedNothing(expect);
            r.CheckSentinels(expect, run.SentinelPairs());
            r.CheckPortLedger(expect);
            T.Log($"[{r.Name}] {expect.Summary().Replace("\n", "\n    ")}");
            expect.Verify(r.Describe);
        });
    }

    /// <summary>
    /// Who receives a broadcast ARP request from <paramref name="s"/> for <paramref name="ip"/>:
    /// a vswitchd answers, back to the sender, for every address of the sender's tenant that it
    /// knows (its local VMs and remote_vms); other requests are flooded like any broadcast. K's
    /// requests reach A tunnelled, and A delivers a decapsulated broadcast to its local VMs of
    /// the tenant without answering it (the responder serves VM ports).
    /// </summary>
    private IEnumerable<Endpoint> ArpRequestReaches(Endpoint s, string ip)
    {
        if (s == T.RedK)
            return T.ReachableFrom(s);
        OverlayHost host = T.HostOf(s);
        bool known = T.Endpoints.Any(o => o.Tenant == s.Tenant && o.Ipv4 == ip && (host.Vms.Contains(o) || OverlayConfigs.RemoteVmsOf(T, host).Contains(o)));
        return known ? [s] : T.ReachableFrom(s);
    }

    /// <summary>
    /// Frames forged on the underlay, all to host-a's overlay MAC, inner frame "red-b (or
    /// blue-b) to 02:00:00:00:01:01". Two are valid (controls); the rest must be dropped, each for
    /// its reason. Out: where the controls arrive, and how many forged frames A drops.
    /// </summary>
    private List<(JsonObject Frames, string? Reason)> Injections(out Dictionary<(string, Endpoint), int> arrivals, out long forged)
    {
        JsonObject Frame(string label, string srcIp, string dstIp, int vni, string tunnel, Endpoint inner, bool options = true, JsonArray? customOptions = null) => new()
        {
            ["label"] = label,
            ["count"] = N,
            ["tunnel"] = tunnel,
            ["vni"] = vni,
            ["geneve_options"] = customOptions ?? (options ? ConfiguredOption() : []),
            ["outer_src_mac"] = OverlayTopology.InjectorMac,
            ["outer_dst_mac"] = T.A.OverlayMac,
            ["outer_src_ip"] = srcIp,
            ["outer_dst_ip"] = dstIp,
            ["inner_src_mac"] = inner.Mac,
            ["inner_dst_mac"] = T.RedA.Mac,
            ["inner_src_ip"] = inner.Ipv4,
            ["inner_dst_ip"] = T.RedA.Ipv4,
            ["sink_port"] = PeerScripts.SinkPort,
        };
        string b = T.B.Vtep, a = T.A.Vtep;
        var list = new List<(JsonObject, string?)>
        {
            (Frame("ul:valid-red", b, a, OverlayTopology.RedVni, "geneve", T.RedB), null),
            (Frame("ul:valid-blue", b, a, OverlayTopology.BlueVni, "geneve", T.BlueB), null),
            (Frame("ul:unknown-vtep", OverlayTopology.InjectorIp, a, OverlayTopology.RedVni, "geneve", T.RedB), "unknown_source_vtep"),
            (Frame("ul:wrong-vtep", b, WrongVtep, OverlayTopology.RedVni, "geneve", T.RedB), "wrong_destination_vtep"),
            (Frame("ul:unknown-vni", b, a, UnknownVni, "geneve", T.RedB), "unknown_vni"),
            (Frame("ul:vxlan-from-geneve-host", b, a, OverlayTopology.RedVni, "vxlan", T.RedB), "tunnel_type_mismatch"),
            // K hosts only red: blue's VNI from K's VTEP names no blue VM there.
            (Frame("ul:kernel-host-blue-vni", OverlayTopology.KernelVtep, a, OverlayTopology.BlueVni, "vxlan", T.RedK), "spoofed_inner_source"),
            // red-b's MAC inside blue's VNI is blue-b's, a VM of host-b: accepted as blue (the VNI
            // is the tenant); the control above shows it. Inside red's VNI from K, it is spoofed.
            (Frame("ul:inner-spoof", OverlayTopology.KernelVtep, a, OverlayTopology.RedVni, "vxlan", T.RedB), "spoofed_inner_source"),
            (Frame("ul:unknown-critical-option", b, a, OverlayTopology.RedVni, "geneve", T.RedB,
                customOptions: new JsonArray(new JsonObject { ["class"] = 0x0102, ["type"] = 0x81, ["data"] = "0000000000000000" })), "geneve_critical_option"),
        };
        arrivals = new Dictionary<(string, Endpoint), int> { [("ul:valid-red", T.RedA)] = N, [("ul:valid-blue", T.BlueA)] = N };
        forged = list.Count(x => x.Item2 is not null) * N;
        _injectionReasons = list.Where(x => x.Item2 is not null).GroupBy(x => x.Item2!).ToDictionary(g => g.Key, g => (long)g.Count() * N);
        return list;

        static JsonArray ConfiguredOption() => new(new JsonObject
        {
            ["class"] = OverlayTopology.GeneveOptionClass,
            ["type"] = OverlayTopology.GeneveOptionType,
            ["data"] = OverlayTopology.GeneveOptionData,
        });
    }

    private Dictionary<string, long> _injectionReasons = [];

    /// <summary>
    /// Host A's drops in the isolation run, each derived from the plan:
    /// - the forged frames, by reason;
    /// - hairpin: red-a and blue-a, each to its twin's MAC, which is its own;
    /// - unknown_inner_destination: decapsulated unicast to a MAC with no local VM behind it:
    ///   from K to red-b's MAC (= blue-b's) twice, and K's unknown unicast (the kernel floods it);
    /// - no_flood_target: red-a's and blue-a's unknown unicast and blue-a's frame to red-k's MAC
    ///   (unknown in blue): unknown unicast stays on the host, where the tenant has no other VM;
    /// - uplink_not_tunnel: other hosts' ARP on the underlay.
    /// </summary>
    private Dictionary<string, long> ExpectedDropsA(OverlayResult r, long forged)
    {
        var drops = new Dictionary<string, long>(_injectionReasons);
        Assert.Equal(forged, drops.Values.Sum());
        drops["hairpin"] = 2 * N;
        drops["unknown_inner_destination"] = 3 * N;
        drops["no_flood_target"] = 3 * N;
        AddCounted(drops, "uplink_not_tunnel", NotForThisHost(r, T.A));
        return drops;
    }

    /// <summary>Host B: hairpins as on A; no_flood_target for red-b's and blue-b's unknown unicast and their frames to red-k's MAC (B knows no red-k).</summary>
    private Dictionary<string, long> ExpectedDropsB(OverlayResult r)
    {
        var drops = new Dictionary<string, long> { ["hairpin"] = 2 * N, ["no_flood_target"] = 4 * N };
        AddCounted(drops, "uplink_not_tunnel", NotForThisHost(r, T.B));
        return drops;
    }

    /// <summary>The drops every run has: other hosts' ARP on the underlay.</summary>
    private Dictionary<string, long> ExpectedDropsOf(OverlayResult r, OverlayHost h)
    {
        var drops = new Dictionary<string, long>();
        AddCounted(drops, "uplink_not_tunnel", NotForThisHost(r, h));
        return drops;
    }

    private static void AddCounted(Dictionary<string, long> drops, string reason, long count)
    {
        if (count != 0)
            drops[reason] = count;
    }

    /// <summary>Frames on h's uplink that are neither tunnel traffic for h nor ARP for h's VTEP: other hosts' ARP (the bridge floods it).</summary>
    private static long NotForThisHost(OverlayResult r, OverlayHost h) =>
        r.FromWireCounted(h).Count(f => f.EtherType == FrameFacts.TypeArp && !(f.IsArpRequest && $"{f.ArpTargetIp}" == h.Vtep) && !(f.IsArpReply && f.Destination == h.OverlayMac));

    // ---------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------

    private async Task Guard(Func<Task> body)
    {
        try
        {
            await body();
        }
        catch
        {
            T.KeepArtifacts();
            throw;
        }
    }

    /// <summary>The checks every run ends with: both switches' drops exactly, every sentinel once, the port ledger; then the verdict.</summary>
    private void Finish(ExpectedCounts expect, OverlayResult r, OverlayRun run, Dictionary<string, long> dropsA, Dictionary<string, long> dropsB)
    {
        r.CheckDrops(expect, T.A, dropsA);
        r.CheckDrops(expect, T.B, dropsB);
        r.CheckSentinels(expect, run.SentinelPairs());
        r.CheckPortLedger(expect);
        T.Log($"[{r.Name}] {expect.Summary().Replace("\n", "\n    ")}");
        expect.Verify(r.Describe);
    }


    private static string Label(Endpoint sender, string kind, Endpoint? target = null) =>
        target is null ? $"{sender.Short}:{kind}" : $"{sender.Short}:{kind}:{target.Short}";

    private Endpoint? SenderOf(string marker) => marker.StartsWith("ul:valid-red", StringComparison.Ordinal) ? T.RedB
        : marker.StartsWith("ul:valid-blue", StringComparison.Ordinal) ? T.BlueB
        : T.Endpoints.SingleOrDefault(e => marker.StartsWith(e.Short + ":", StringComparison.Ordinal));

    private static byte[] PatternOf(Endpoint e) => System.Text.Encoding.ASCII.GetBytes(e.Short + "ping");

    private static bool Contains(byte[]? payload, ReadOnlySpan<byte> pattern) => payload is not null && payload.AsSpan().IndexOf(pattern) >= 0;

    /// <summary>Pings with the payload pattern; with <paramref name="ipSize"/>, packets of exactly that IPv4 length and DF set (no fragmenting on the way out).</summary>
    internal static Task<ProcessResult> PingAsync(Endpoint from, string target, int count, ReadOnlySpan<byte> pattern, int? ipSize = null)
    {
        string[] size = ipSize is int n ? ["-M", "do", "-s", (n - IcmpIpHeaders).ToString()] : [];
        return from.Ns.RunAsync("ping", ["-n", "-c", count.ToString(), "-i", "0.2", "-W", "2", .. size, "-p", Convert.ToHexString(pattern), target], PingTimeout);
    }

    internal static Task<ProcessResult> PingAsync(Endpoint from, string target, int count, byte[] pattern, int? ipSize = null) =>
        PingAsync(from, target, count, pattern.AsSpan(), ipSize);

    private static byte[] BoundaryPattern(Endpoint e, int size) => System.Text.Encoding.ASCII.GetBytes($"{e.Short}{size}");

    /// <summary>Length of the longest tunnel frame to <paramref name="udpPort"/> in a capture (0 if none).</summary>
    internal static int LongestTunnelFrame(IEnumerable<FrameFacts> frames, int udpPort) =>
        frames.Where(f => f.UdpDestinationPort == udpPort).Select(f => f.Data.Length).DefaultIfEmpty(0).Max();

    private Task<TcpOutcome> TcpAsync(OverlayRun run, Endpoint client, Endpoint server, int? mss = null) =>
        TcpAsync(run.StartHelper, T.PeerScript, client, server, TcpBytes, mss);

    /// <summary>peer.py's TCP server in <paramref name="server"/>'s namespace (started by <paramref name="startHelper"/>), its client in <paramref name="client"/>'s.</summary>
    internal static async Task<TcpOutcome> TcpAsync(Func<Endpoint, string, string[], BackgroundProcess> startHelper, string peerScript,
        Endpoint client, Endpoint server, int bytes, int? mss = null, TimeSpan? timeout = null)
    {
        string[] clamp = mss is int m ? [m.ToString()] : [];
        BackgroundProcess process = startHelper(server, $"tcp-server {server.Name}", ["tcp-server", server.Ipv4, TcpPort.ToString(), server.Name, .. clamp]);
        await process.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), timeout ?? TimeSpan.FromSeconds(20), "'listening'");
        ProcessResult clientRun = await client.Ns.RunAsync(Prerequisites.SystemPython,
            [peerScript, "tcp-client", server.Ipv4, TcpPort.ToString(), bytes.ToString(), .. clamp], timeout ?? TimeSpan.FromSeconds(30));
        int? exit = await process.WaitForExitAsync(TimeSpan.FromSeconds(10), throwOnTimeout: false);
        return new TcpOutcome(client, server, clientRun, exit, process.Describe());
    }
}
