// The dataplane against real Linux peers: vswitchd switches between four network namespaces
// over af_packet ports (topology in SystemTopology.cs: tenants red and blue with the SAME MACs
// and IPv4 addresses). Each test is one or two vswitchd runs; each asserts exact numbers from
// vswitchd's exit counters and from captures at both ends of every veth, with a positive
// control beside every negative check (a frame that must arrive next to one that must not).
//
// Needs root, iproute2, ethtool, tcpdump, iputils-ping and python3-scapy (a missing one fails
// the fixture with the apt-get line), and a built vswitchd:
//   dotnet build VSwitch.sln
//   dotnet tests/VSwitch.Tests.Integration/bin/Debug/net10.0/VSwitch.Tests.Integration.dll -class '*DataplaneSystemTests'
// A failed run keeps its captures, plans, configs and vswitchd logs in /tmp/vswitch-systest/<prefix>/.
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;
using static VSwitch.Tests.Integration.SystemTests.FramePlans;

namespace VSwitch.Tests.Integration.SystemTests;

public sealed class DataplaneSystemTests(SystemTopology topology) : IClassFixture<SystemTopology>
{
    /// <summary>Frames per crafted kind: small enough to be quick, more than one so that "exactly N" means something.</summary>
    private const int N = 5;
    private const int PingCount = 5;
    /// <summary>About 140 full-size segments (MSS 1448 at MTU 1500): offload or checksum trouble on af_packet would show.</summary>
    private const int TcpBytes = 200_000;
    private const int TcpPort = 5001;
    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(30);

    // ping -p fills each echo payload with a pattern: it tells red's pings from blue's even
    // though both tenants ping the same address from the same MAC.
    private static readonly byte[] RedPattern = "redping"u8.ToArray();
    private static readonly byte[] BluePattern = "blueping"u8.ToArray();

    private SystemTopology T => topology;

    private byte[] PatternOf(Endpoint e) => e.Tenant == "red" ? RedPattern : BluePattern;

    // ---------------------------------------------------------------------------------------
    // 1. Same-tenant traffic arrives; ARP is answered by the switch, never broadcast to VMs.
    // ---------------------------------------------------------------------------------------
    [Fact]
    public async Task Same_tenant_ping_and_TCP_arrive_ARP_answered_by_responder()
    {
        await Guard(async () =>
        {
            await using SystemRun run = await SystemRun.StartAsync(T, "same-tenant");
            PeerTraffic traffic = await PingAndTcpWithPeersAsync(run);
            RunResult r = await run.FinishAsync();

            var expect = new ExpectedCounts("same-tenant ping/TCP/ARP");
            CheckPingAndTcp(expect, traffic, r);
            long arpRequests = CheckArpAnsweredLocally(expect, r);
            // The positive control of "no ARP request reached the peer": the pinging VMs did ask.
            // (Marker == null: the kernel's own requests, not the end-of-run sentinel's.)
            expect.AtLeast("ARP requests red-a's kernel sent for 10.0.0.2", 1,
                r.Sent[T.RedA].Count(f => f.IsArpRequest && f.Marker is null && f.ArpTargetIp!.ToString() == T.RedB.Ipv4));
            expect.AtLeast("ARP requests blue-a's kernel sent for 10.0.0.2", 1,
                r.Sent[T.BlueA].Count(f => f.IsArpRequest && f.Marker is null && f.ArpTargetIp!.ToString() == T.BlueB.Ipv4));
            expect.AtLeast("arp_replies", 1, r.Counters.ArpReplies);
            expect.Equal("arp_replies == ARP requests the VMs sent", arpRequests, r.Counters.ArpReplies);
            expect.Equal("flooded", 0, r.Counters.Flooded);
            expect.Equal("unicast == every frame sent that was not an ARP request", TotalSent(r) - arpRequests, r.Counters.Unicast);
            r.CheckDrops(expect);
            r.CheckPortLedger(expect);
            Finish(expect, r);
        });
    }

    // ---------------------------------------------------------------------------------------
    // 2. Isolation: every endpoint sends every kind of frame to everyone; exact tallies everywhere.
    // ---------------------------------------------------------------------------------------
    [Fact]
    public async Task Isolation_crafted_frames_stay_inside_their_tenant()
    {
        await Guard(async () =>
        {
            await using SystemRun run = await SystemRun.StartAsync(T, "isolation");
            var plans = new Dictionary<Endpoint, List<JsonObject>>();
            // expected[(label, receiver)] = frames that must arrive; anything absent must be 0.
            var expected = new Dictionary<(string Label, Endpoint At), int>();
            foreach (Endpoint s in T.Endpoints)
            {
                var frames = new List<JsonObject>();
                Endpoint peer = T.PeerOf(s);
                foreach (Endpoint t in T.Endpoints.Where(t => t != s))
                {
                    // Addressed to t's MAC and IP. In s's tenant that MAC is either the peer's
                    // (delivered to the peer, whichever tenant t is in) or s's own (the
                    // cross-tenant twin: a hairpin, dropped). Never t itself if t is in the other tenant.
                    string label = Label(s, "uc", t);
                    frames.Add(Udp(label, N, s, t.Mac, t.Ipv4));
                    Endpoint? owner = T.OwnerInTenant(s, t.Mac);
                    if (owner is not null && owner != s)
                        expected[(label, owner)] = N;
                }
                frames.Add(Udp(Label(s, "bcast"), N, s, Broadcast, BroadcastIpv4));
                frames.Add(Udp(Label(s, "unknown-uc"), N, s, UnknownMac, UnknownIpv4));
                frames.Add(ArpRequest(Label(s, "arp-unknown-ip"), N, s, UnknownIpv4));
                expected[(Label(s, "bcast"), peer)] = N;
                expected[(Label(s, "unknown-uc"), peer)] = N;
                expected[(Label(s, "arp-unknown-ip"), peer)] = N;
                // ARP for the peer's address: the responder answers; the reply (same frame,
                // rewritten, marker in its trailer) returns to s and goes nowhere else.
                frames.Add(ArpRequest(Label(s, "arp-peer-ip"), N, s, peer.Ipv4));
                expected[(Label(s, "arp-peer-ip"), s)] = N;
                plans[s] = frames;
            }
            await run.RunAgentsAsync(plans);
            RunResult r = await run.FinishAsync();

            var expect = new ExpectedCounts("isolation");
            var labels = plans.Values.SelectMany(f => f).Select(f => (string)f["label"]!).ToList();
            foreach (string label in labels)
            {
                foreach (Endpoint at in T.Endpoints)
                    expect.Equal($"{label} at {at.Name}", expected.GetValueOrDefault((label, at)), r.DeliveredWithMarker(at, label));
            }
            foreach (Endpoint at in T.Endpoints)
            {
                var stray = r.Delivered[at]
                    .Where(f => f.Marker is not null && !labels.Contains(f.Marker)
                        && f.Marker != SystemRun.SentinelLabel(T.PeerOf(at)) && f.Marker != SystemRun.SentinelArpLabel(at))
                    .Select(f => f.Marker).Distinct().ToList();
                expect.True(stray.Count == 0, $"{at.Name} got frames with unplanned markers: {string.Join(", ", stray)}");
                // The headline property, stated on its own: nothing one tenant sent reached the other.
                expect.Equal($"frames from the other tenant at {at.Name}", 0,
                    r.Delivered[at].Count(f => f.Marker is not null && SenderOf(f.Marker)?.Tenant != at.Tenant));
                expect.Equal($"frames {at.Name} sent (7 kinds x {N} + sentinels)", 7 * N + RunResult.SentinelFramesPerEndpoint, r.Sent[at].Count);
                foreach (FrameFacts reply in r.Delivered[at].Where(f => f.Marker == Label(at, "arp-peer-ip")))
                {
                    Endpoint peer = T.PeerOf(at);
                    expect.True(reply.IsArpReply && reply.ArpSenderMac == peer.Mac && reply.ArpSenderIp!.ToString() == peer.Ipv4
                        && reply.ArpTargetMac == at.Mac && reply.ArpTargetIp!.ToString() == at.Ipv4 && reply.Destination == at.Mac,
                        $"{at.Name}: answer to its ARP request is not a reply '{peer.Ipv4} is-at {peer.Mac}' to {at.Mac}: {reply}");
                }
            }

            int hairpins = T.Endpoints.Sum(s => T.Endpoints.Count(t => t != s && T.OwnerInTenant(s, t.Mac) == s)) * N;
            int unicast = T.Endpoints.Sum(s => T.Endpoints.Count(t => t != s && T.OwnerInTenant(s, t.Mac) is { } o && o != s)) * N;
            expect.Equal("hairpin frames in the plan (4 senders x twin MAC x N)", 4 * N, hairpins);
            r.CheckDrops(expect, new Dictionary<string, long> { ["hairpin"] = hairpins });
            expect.Equal("unicast (+ sentinels)", unicast + r.SentinelUnicast, r.Counters.Unicast);
            expect.Equal("flooded (broadcast + unknown unicast + ARP for an unknown IP, per sender)", 3 * N * 4, r.Counters.Flooded);
            expect.Equal("arp_replies (+ sentinels)", N * 4 + r.SentinelArpReplies, r.Counters.ArpReplies);
            foreach (Endpoint e in T.Endpoints)
            {
                expect.Equal($"{e.PortName}.rx (+ sentinels)", 7 * N + RunResult.SentinelFramesPerEndpoint, r.Counters.Port(e.PortName).Rx);
                expect.Equal($"{e.PortName}.tx (+ peer's sentinel, own sentinel's ARP answer)", expected.Where(kv => kv.Key.At == e).Sum(kv => kv.Value) + 2,
                    r.Counters.Port(e.PortName).Tx);
                expect.Equal($"{e.PortName}.drops (hairpins)", N, r.Counters.Port(e.PortName).Drops);
            }
            r.CheckPortLedger(expect);
            Finish(expect, r);
        });
    }

    // ---------------------------------------------------------------------------------------
    // 3. Spoofing from a real endpoint: dropped, counted by reason, delivered nowhere.
    // ---------------------------------------------------------------------------------------
    [Fact]
    public async Task Spoofing_from_red_a_is_dropped_and_counted_by_reason()
    {
        await Guard(async () =>
        {
            await using SystemRun run = await SystemRun.StartAsync(T, "spoofing");
            Endpoint a = T.RedA, b = T.RedB;
            var attacks = new (JsonObject Frames, string Reason)[]
            {
                (Udp("spoof-mac-unknown", N, ForgedMac, b.Mac, a.Ipv4, b.Ipv4), "spoofed_source_mac"),
                // Impersonating the tenant's other VM (and as broadcast, so a miss would flood).
                (Udp("spoof-mac-peer-bcast", N, b.Mac, Broadcast, a.Ipv4, BroadcastIpv4), "spoofed_source_mac"),
                (Udp("spoof-ip-peer", N, a.Mac, b.Mac, b.Ipv4, b.Ipv4), "spoofed_ipv4_source"),
                (Udp("spoof-ip-unknown-bcast", N, a.Mac, Broadcast, UnknownIpv4, BroadcastIpv4), "spoofed_ipv4_source"),
                // ARP claiming the peer's address; a broadcast request for an unowned address, so a miss would flood it to red-b.
                (Arp("spoof-arp-ip", N, a.Mac, Broadcast, 1, a.Mac, b.Ipv4, UnknownIpv4), "spoofed_arp_sender"),
                // ARP cache poisoning: a reply whose sender hardware address is not the port's.
                (Arp("spoof-arp-mac", N, a.Mac, b.Mac, 2, ForgedMac, a.Ipv4, b.Ipv4, b.Mac), "spoofed_arp_sender"),
                (VlanUdp("vlan-8021q", N, a, b.Mac, b.Ipv4, vlan: 7), "vlan_tagged"),
                (QinQUdp("vlan-qinq-bcast", N, a, Broadcast, BroadcastIpv4, outerVlan: 100, innerVlan: 7), "vlan_tagged"),
            };
            var controls = new[]
            {
                Udp("control-unicast", N, a, b.Mac, b.Ipv4),
                Udp("control-bcast", N, a, Broadcast, BroadcastIpv4),
                ArpRequest("control-arp", N, a, b.Ipv4),
            };
            var plans = T.Endpoints.ToDictionary(e => e, e => e == a ? [.. attacks.Select(x => x.Frames), .. controls] : new List<JsonObject>());
            await run.RunAgentsAsync(plans);
            RunResult r = await run.FinishAsync();

            var expect = new ExpectedCounts("spoofing");
            foreach ((JsonObject frames, string reason) in attacks)
            {
                string label = (string)frames["label"]!;
                foreach (Endpoint at in T.Endpoints)
                    expect.Equal($"{label} ({reason}) at {at.Name}", 0, r.DeliveredWithMarker(at, label));
            }
            foreach (Endpoint at in T.Endpoints)
            {
                expect.Equal($"control-unicast at {at.Name}", at == b ? N : 0, r.DeliveredWithMarker(at, "control-unicast"));
                expect.Equal($"control-bcast at {at.Name}", at == b ? N : 0, r.DeliveredWithMarker(at, "control-bcast"));
                expect.Equal($"control-arp (answered) at {at.Name}", at == a ? N : 0, r.DeliveredWithMarker(at, "control-arp"));
                expect.Equal($"frames {at.Name} sent (+ sentinels)", (at == a ? (attacks.Length + controls.Length) * N : 0) + RunResult.SentinelFramesPerEndpoint,
                    r.Sent[at].Count);
            }
            var reasons = attacks.GroupBy(x => x.Reason).ToDictionary(g => g.Key, g => (long)g.Count() * N);
            r.CheckDrops(expect, reasons);
            expect.Equal("unicast (control + sentinels)", N + r.SentinelUnicast, r.Counters.Unicast);
            expect.Equal("flooded (control broadcast)", N, r.Counters.Flooded);
            expect.Equal("arp_replies (control + sentinels)", N + r.SentinelArpReplies, r.Counters.ArpReplies);
            expect.Equal($"{a.PortName}.drops", attacks.Length * N, r.Counters.Port(a.PortName).Drops);
            expect.Equal($"{b.PortName}.tx (controls + red-a's sentinel + own sentinel's ARP answer)", 2 * N + 2, r.Counters.Port(b.PortName).Tx);
            r.CheckPortLedger(expect);
            Finish(expect, r);
        });
    }

    // ---------------------------------------------------------------------------------------
    // 4. Known unicast never floods: a run with only resolved unicast leaves "flooded" at 0.
    // ---------------------------------------------------------------------------------------
    [Fact]
    public async Task Flood_counter_stays_zero_while_only_known_unicast_flows()
    {
        await Guard(async () =>
        {
            // Run 1 ("before"): resolve ARP in every VM, plus broadcast pings as the positive control.
            RunResult before;
            await using (SystemRun run = await SystemRun.StartAsync(T, "flood-resolve"))
            {
                var resolve = new List<ProcessResult>();
                foreach (Endpoint e in T.Endpoints)
                    resolve.Add(await PingAsync(e, T.PeerOf(e).Ipv4, 1, PatternOf(e)));
                ProcessResult redBroadcast = await PingAsync(T.RedA, "10.0.0.255", 3, RedPattern, broadcast: true);
                ProcessResult blueBroadcast = await PingAsync(T.BlueA, "10.0.0.255", 3, BluePattern, broadcast: true);
                before = await run.FinishAsync();

                var expect = new ExpectedCounts("flood, run 1: ARP resolution + 6 broadcast pings");
                foreach (ProcessResult ping in resolve)
                    CheckPing(expect, ping, 1, 1);
                // Nobody answers a broadcast echo (icmp_echo_ignore_broadcasts=1); the requests must still reach the peer.
                CheckPing(expect, redBroadcast, 3, 0);
                CheckPing(expect, blueBroadcast, 3, 0);
                foreach (Endpoint at in T.Endpoints)
                {
                    foreach (Endpoint from in new[] { T.RedA, T.BlueA })
                    {
                        int expected = at == T.PeerOf(from) ? 3 : 0;
                        expect.Equal($"broadcast echo requests from {from.Name} at {at.Name}", expected,
                            before.Delivered[at].Count(f => f.IsIcmpEchoRequest && f.IsBroadcast && Contains(f.IcmpPayload, PatternOf(from))));
                    }
                }
                long arpRequests = CheckArpAnsweredLocally(expect, before);
                expect.Equal("arp_replies == ARP requests the VMs sent", arpRequests, before.Counters.ArpReplies);
                expect.Equal("flooded (the 6 broadcast pings; ARP resolution floods nothing)", 6, before.Counters.Flooded);
                expect.Equal("unicast", TotalSent(before) - arpRequests - 6, before.Counters.Unicast);
                before.CheckDrops(expect);
                before.CheckPortLedger(expect);
                Finish(expect, before);
            }

            // Between runs: every VM must hold its peer's MAC, so run 2 starts with ARP resolved.
            var neighbours = new ExpectedCounts("flood, between runs: ARP caches");
            foreach (Endpoint e in T.Endpoints)
            {
                string table = (await e.Ns.RunCheckedAsync("ip", "neigh", "show", "dev", e.VmInterface)).Stdout;
                Endpoint peer = T.PeerOf(e);
                neighbours.True(Regex.IsMatch(table, $@"^{Regex.Escape(peer.Ipv4)} lladdr {peer.Mac} (REACHABLE|STALE|DELAY)", RegexOptions.Multiline),
                    $"{e.Name} has no resolved entry for {peer.Ipv4} -> {peer.Mac}: '{table.Trim()}'");
            }
            neighbours.Verify();

            // Run 2 ("after"): only unicast between resolved peers: pings and TCP in both tenants.
            await using (SystemRun run = await SystemRun.StartAsync(T, "flood-unicast", flushNeighbours: false))
            {
                PeerTraffic traffic = await PingAndTcpWithPeersAsync(run);
                RunResult after = await run.FinishAsync();

                var expect = new ExpectedCounts("flood, run 2: known unicast only");
                CheckPingAndTcp(expect, traffic, after);
                // The phase really was "known unicast only": every frame into the switch was
                // addressed to the sender's peer (a kernel's unicast ARP probe would be too).
                foreach (Endpoint e in T.Endpoints)
                {
                    var other = after.Sent[e].Where(f => f.Destination != T.PeerOf(e).Mac).ToList();
                    expect.True(other.Count == 0, $"{e.Name} sent {other.Count} frame(s) not addressed to its peer: {string.Join("; ", other.Take(3))}");
                }
                long arpRequests = CheckArpAnsweredLocally(expect, after);
                expect.Equal("flooded: before (run 1, with 6 broadcasts)", 6, before.Counters.Flooded);
                expect.Equal("flooded: after (run 2, known unicast only)", 0, after.Counters.Flooded);
                expect.Equal("arp_replies == unicast ARP probes sent", arpRequests, after.Counters.ArpReplies);
                expect.Equal("unicast == every frame sent that was not an ARP request", TotalSent(after) - arpRequests, after.Counters.Unicast);
                after.CheckDrops(expect);
                after.CheckPortLedger(expect);
                Finish(expect, after);
            }
        });
    }

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

    private void Finish(ExpectedCounts expect, RunResult r)
    {
        T.Log($"[{r.Name}] {expect.Summary().Replace("\n", "\n    ")}");
        expect.Verify(r.Describe);
    }

    private static string Label(Endpoint sender, string kind, Endpoint? target = null) =>
        target is null ? $"{sender.Short}:{kind}" : $"{sender.Short}:{kind}:{target.Short}";

    private Endpoint? SenderOf(string marker) => T.Endpoints.SingleOrDefault(e => marker.StartsWith(e.Short + ":", StringComparison.Ordinal));

    private static long TotalSent(RunResult r) => r.Sent.Values.Sum(frames => frames.Count);

    private static bool Contains(byte[]? payload, byte[] pattern) => payload is not null && payload.AsSpan().IndexOf(pattern) >= 0;

    private static Task<ProcessResult> PingAsync(Endpoint from, string target, int count, byte[] pattern, bool broadcast = false)
    {
        var args = new List<string> { "-n", "-c", count.ToString(), "-i", "0.2", "-W", "2", "-p", Convert.ToHexString(pattern) };
        if (broadcast)
            args.Add("-b");
        args.Add(target);
        return from.Ns.RunAsync("ping", args, PingTimeout);
    }

    private sealed record PeerTraffic(ProcessResult RedPing, ProcessResult BluePing, List<TcpOutcome> Tcp);

    /// <summary>Unicast in both tenants: red-a and blue-a each ping their peer <see cref="PingCount"/> times, then TCP (<see cref="TcpExchangesAsync"/>).</summary>
    private async Task<PeerTraffic> PingAndTcpWithPeersAsync(SystemRun run)
    {
        ProcessResult redPing = await PingAsync(T.RedA, T.RedB.Ipv4, PingCount, RedPattern);
        ProcessResult bluePing = await PingAsync(T.BlueA, T.BlueB.Ipv4, PingCount, BluePattern);
        return new PeerTraffic(redPing, bluePing, await TcpExchangesAsync(run));
    }

    /// <summary>Every ping answered, both TCP exchanges intact, and each tenant's echoes seen by its two VMs only.</summary>
    private void CheckPingAndTcp(ExpectedCounts expect, PeerTraffic traffic, RunResult r)
    {
        CheckPing(expect, traffic.RedPing, PingCount, PingCount);
        CheckPing(expect, traffic.BluePing, PingCount, PingCount);
        CheckTcp(expect, traffic.Tcp);
        CheckEchoes(expect, r, (T.RedA, T.RedB, PingCount), (T.BlueA, T.BlueB, PingCount));
    }

    internal static void CheckPing(ExpectedCounts expect, ProcessResult ping, int transmitted, int received)
    {
        Match m = Regex.Match(ping.Stdout, @"(\d+) packets transmitted, (\d+) received");
        expect.True(m.Success, $"no ping summary from `{ping.CommandLine}`:{ping.Describe()}");
        if (!m.Success)
            return;
        expect.Equal($"`{ping.CommandLine}` transmitted", transmitted, long.Parse(m.Groups[1].Value));
        expect.Equal($"`{ping.CommandLine}` received", received, long.Parse(m.Groups[2].Value));
    }

    /// <summary>Echo requests of each pair's pattern reach only its peer; replies only the pinger.</summary>
    private void CheckEchoes(ExpectedCounts expect, RunResult r, params (Endpoint From, Endpoint To, int Count)[] pings)
    {
        foreach ((Endpoint from, Endpoint to, int count) in pings)
        {
            byte[] pattern = PatternOf(from);
            foreach (Endpoint at in T.Endpoints)
            {
                expect.Equal($"echo requests from {from.Name} at {at.Name}", at == to ? count : 0,
                    r.Delivered[at].Count(f => f.IsIcmpEchoRequest && Contains(f.IcmpPayload, pattern)));
                expect.Equal($"echo replies for {from.Name} at {at.Name}", at == from ? count : 0,
                    r.Delivered[at].Count(f => f.IsIcmpEchoReply && Contains(f.IcmpPayload, pattern)));
            }
        }
    }

    /// <summary>
    /// No VM ever receives an ARP request (the switch answers for every tenant address), and each
    /// request a VM sent came back as exactly one correct reply from its peer. Returns the number
    /// of ARP requests the VMs sent.
    /// </summary>
    private long CheckArpAnsweredLocally(ExpectedCounts expect, RunResult r)
    {
        long total = 0;
        foreach (Endpoint e in T.Endpoints)
        {
            Endpoint peer = T.PeerOf(e);
            var requests = r.Sent[e].Where(f => f.IsArpRequest).ToList();
            var replies = r.Delivered[e].Where(f => f.IsArpReply).ToList();
            total += requests.Count;
            expect.Equal($"ARP requests delivered to {e.Name}", 0, r.Delivered[e].Count(f => f.IsArpRequest));
            expect.Equal($"ARP replies to {e.Name} == its {requests.Count} request(s)", requests.Count, replies.Count);
            expect.True(requests.All(q => q.ArpTargetIp!.ToString() == peer.Ipv4),
                $"{e.Name} asked for an address other than its peer's: {string.Join("; ", requests.Where(q => q.ArpTargetIp!.ToString() != peer.Ipv4))}");
            foreach (FrameFacts reply in replies)
            {
                expect.True(reply.ArpSenderMac == peer.Mac && reply.ArpSenderIp!.ToString() == peer.Ipv4 && reply.ArpTargetMac == e.Mac
                    && reply.ArpTargetIp!.ToString() == e.Ipv4 && reply.Source == peer.Mac && reply.Destination == e.Mac,
                    $"{e.Name} got a wrong ARP reply: {reply}");
            }
        }
        return total;
    }

    internal sealed record TcpOutcome(Endpoint Client, Endpoint Server, ProcessResult ClientRun, int? ServerExit, string ServerLog);

    /// <summary>
    /// TCP red-a -> red-b and blue-a -> blue-b. Both servers listen on 10.0.0.2:5001 before either
    /// client connects, so a connection switched into the wrong tenant would be answered by the
    /// wrong server's identity.
    /// </summary>
    private async Task<List<TcpOutcome>> TcpExchangesAsync(SystemRun run)
    {
        var servers = new[] { T.RedB, T.BlueB }
            .Select(s => (Server: s, Process: run.StartHelper(s, $"tcp-server {s.Name}", "tcp-server", s.Ipv4, TcpPort.ToString(), s.Name)))
            .ToList();
        foreach (var (_, process) in servers)
            await process.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "'listening'");
        var outcomes = new List<TcpOutcome>();
        foreach (var (server, process) in servers)
        {
            Endpoint client = T.PeerOf(server);
            ProcessResult clientRun = await client.Ns.RunAsync(Prerequisites.SystemPython,
                [T.PeerScript, "tcp-client", server.Ipv4, TcpPort.ToString(), TcpBytes.ToString()], TimeSpan.FromSeconds(30));
            int? exit = await process.WaitForExitAsync(TimeSpan.FromSeconds(10), throwOnTimeout: false);
            outcomes.Add(new TcpOutcome(client, server, clientRun, exit, process.Describe()));
        }
        return outcomes;
    }

    internal static void CheckTcp(ExpectedCounts expect, List<TcpOutcome> outcomes)
    {
        foreach (TcpOutcome o in outcomes)
        {
            string[] lines = o.ClientRun.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            string? sent = lines.FirstOrDefault(l => l.StartsWith("sent ", StringComparison.Ordinal));
            string expectedAnswer = sent is null ? "?" : $"{o.Server.Name} {sent["sent ".Length..]}";
            expect.True(o.ClientRun.Succeeded && sent is not null && lines.Contains(expectedAnswer),
                $"TCP {o.Client.Name} -> {o.Server.Name}: expected the answer '{expectedAnswer}' ({TcpBytes} bytes, same SHA-256, from {o.Server.Name}); " +
                $"client exit {o.ClientRun.ExitCode}:{o.ClientRun.Describe()}\nserver: {o.ServerLog}");
            expect.True(o.ServerExit == 0, $"TCP server {o.Server.Name} did not finish cleanly: {o.ServerLog}");
        }
    }
}
