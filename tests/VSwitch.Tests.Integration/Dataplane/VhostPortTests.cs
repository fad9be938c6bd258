// vhost-user VM ports against real virtio-net frontends: each VM is a dpdk-testpmd process with
// one net_virtio_user port on its own vswitchd socket (Infrastructure/TestpmdVm.cs), exchanging
// UDP frames from its own MAC and address. Counts are exact at both ends: what a VM's port sent,
// what vswitchd counted in and out and dropped by reason, what the other VM's port received.
//
//   red  (VNI 5001): a 02:..:01 10.0.0.1 (vh-a), b 02:..:02 10.0.0.2 (vh-b), d 02:..:04 (vh-d,
//                    no frontend ever), e 02:..:05 on host-b (VXLAN, 192.168.50.2)
//   blue (VNI 5002): c 02:..:02 10.0.0.2 (vh-c): b's MAC and address in another tenant
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;
using static VSwitch.Tests.Integration.Dataplane.RunningOverlayTests;
using static VSwitch.Tests.Integration.Infrastructure.TestpmdVm;

namespace VSwitch.Tests.Integration.Dataplane;

public sealed class VhostPortTests() : RunningVswitchd("vhost", TimeSpan.FromSeconds(60))
{
    private const string IpA = "10.0.0.1", IpB = "10.0.0.2", MacE = "02:00:00:00:00:05";

    private string Socket(string port) => Path.Combine(_dir, $"{port}.sock");

    public override async ValueTask InitializeAsync()
    {
        string empty = Path.Combine(_dir, "uplink-in.pcap");
        PcapFile.Write(empty, []);
        await StartAsync(new VswitchdConfig(_prefix,
            [
                VswitchdPort.Vhost("vh-a", Socket("vh-a")),
                VswitchdPort.Vhost("vh-b", Socket("vh-b")),
                VswitchdPort.Vhost("vh-c", Socket("vh-c")),
                VswitchdPort.Vhost("vh-d", Socket("vh-d")),
                new("up0", $"net_pcap9,rx_pcap={empty},tx_pcap={Path.Combine(_dir, "uplink-out.pcap")}", Role: "uplink"),
            ],
            [
                new("red",
                    [new("a", "vh-a", MacA, [IpA]), new("b", "vh-b", MacB, [IpB]), new("d", "vh-d", MacD, ["10.0.0.4"])],
                    Vni: 5001, RemoteVms: [new("e", "host-b", MacE, ["10.0.0.5"])]),
                new("blue", [new("c", "vh-c", MacB, [IpB])], Vni: 5002),
            ])
        {
            Overlay = new VswitchdOverlay("up0", $"{Vtep}/24", OurMac, [new("host-b", HostB, "vxlan")])
            {
                StaticNeighbours = [(HostB, "02:bb:00:00:00:02")],
            },
        });
    }

    [Fact]
    public async Task VMs_exchange_frames_over_vhost_user_and_another_tenant_with_the_same_addresses_sees_none()
    {
        await using TestpmdVm b = await TestpmdVm.StartAsync("b", Socket("vh-b"), MacB, IpB, MacA, IpA);
        await using TestpmdVm c = await TestpmdVm.StartAsync("c", Socket("vh-c"), MacB, IpB, MacA, IpA);
        await using TestpmdVm a = await TestpmdVm.StartAsync("a", Socket("vh-a"), MacA, IpA, MacB, IpB);
        await VhostState.WaitAsync(Request, ("vh-a", 1), ("vh-b", 1), ("vh-c", 1), ("vh-d", 0));
        // No frame yet: every poll loop so far was idle.
        JsonObject idle = (await Request("counters"))["workers"]![0]!.AsObject();
        Assert.Equal(0UL, (ulong)idle["busy_cycles"]!);
        Assert.True((ulong)idle["idle_cycles"]! > 0, idle.ToJsonString());

        // a -> b: 4 bursts; b -> a: 1 burst. c (b's MAC and address, other tenant) gets none of either.
        await a.SendBurstsAsync(4);
        await b.SendBurstsAsync(1);
        await CountersAfter(5 * Burst);
        await b.DrainAsync(DrainTime);
        await a.DrainAsync(DrainTime);
        await c.DrainAsync(DrainTime);
        // a -> d, whose VM has no frontend: dropped as vhost_not_ready. a -> e on host-b: encapsulated.
        await a.SetPeerAsync(MacD);
        await a.SendBurstsAsync(1);
        await a.SetPeerAsync(MacE);
        await a.SendBurstsAsync(2);
        JsonObject counters = await CountersAfter(8 * Burst);

        var stats = new Dictionary<string, (long Rx, long Tx, long TxErrors)>
        {
            ["a"] = await a.PortStatsAsync(),
            ["b"] = await b.PortStatsAsync(),
            ["c"] = await c.PortStatsAsync(),
        };
        string Facts() => $"testpmd ports (rx, tx, tx errors): {string.Join(", ", stats.Select(s => $"{s.Key} {s.Value}"))}\n" +
            $"vswitchd: {counters.ToJsonString()}";
        Assert.True(stats["a"] == (Burst, 7 * Burst, 0), Facts());
        Assert.True(stats["b"] == (4 * Burst, Burst, 0), Facts());
        Assert.True(stats["c"] == (0, 0, 0), Facts());

        JsonObject ports = counters["ports"]!.AsObject();
        Assert.Equal((ulong)(7 * Burst), (ulong)ports["vh-a"]!["rx"]!);
        Assert.Equal((ulong)Burst, (ulong)ports["vh-a"]!["tx"]!);
        Assert.Equal((ulong)(4 * Burst), (ulong)ports["vh-b"]!["tx"]!);
        Assert.Equal(0UL, (ulong)ports["vh-c"]!["tx"]!);
        Assert.Equal((ulong)Burst, (ulong)counters["drops"]!["vhost_not_ready"]!);
        Assert.Equal((ulong)Burst, counters["drops"]!.AsObject().Aggregate(0UL, (sum, d) => sum + (ulong)d.Value!));
        Assert.Equal((ulong)(2 * Burst), (ulong)counters["tunnels"]!["host-b"]!["encap"]!);
        // The same per queue (one queue pair each): d's frames are charged to the queue that refused them.
        Assert.Equal((7 * Burst, Burst, 0), VhostState.QueueCounters(ports["vh-a"]!, 0));
        Assert.Equal((0, 0, Burst), VhostState.QueueCounters(ports["vh-d"]!, 0));
        JsonObject worker = counters["workers"]![0]!.AsObject();
        Assert.Equal(0, (long)worker["allocated_bytes"]!);
        // Busy loops carried all 8 bursts: some cycles, and fewer than 10 ms of them per frame.
        Assert.InRange((ulong)worker["busy_cycles"]!, 1UL, 8 * Burst * (ulong)counters["tsc_hz"]! / 100);
        JsonObject state = counters["ports"]!["vh-a"]!["vhost_user"]!.AsObject();
        Assert.Equal(1, (long)state["connections"]!);
        Assert.Equal([0], state["guest_rx_queues"]!.AsArray().Select(q => (int)q!));

        // The uplink's capture, complete once vswitchd has stopped: a's frames to e in VXLAN to host-b.
        await _vswitchd!.StopAsync(VswitchdStop.Sigterm, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        var tunnelled = PcapFile.Read(Path.Combine(_dir, "uplink-out.pcap")).Select(FrameFacts.Parse).ToList();
        Assert.Equal(2 * Burst, tunnelled.Count);
        Assert.All(tunnelled, f =>
        {
            Assert.Equal(HostB, f.Ipv4Destination?.ToString());
            Assert.Equal(4789, f.UdpDestinationPort);
            FrameFacts inner = FrameFacts.Parse(f.Data[50..]);
            Assert.Equal((MacA, MacE, IpA), (inner.Source, inner.Destination, inner.Ipv4Source?.ToString()));
        });
    }
}

/// <summary>
/// Frontends and vswitchd come and go under traffic, and nobody acts: a VM killed and started
/// again on vswitchd's server socket, and a vswitchd killed and started again while its
/// client-mode ports' VMs (testpmd with virtio-user server=1, the way a VMM serves its socket) run on.
/// </summary>
public sealed class VhostReconnectTests() : RunningVswitchd("vhostre", TimeSpan.FromSeconds(60))
{
    private const string IpA = "10.0.0.1", IpB = "10.0.0.2", IpC = "10.0.0.3";

    private string Socket(string port) => Path.Combine(_dir, $"{port}.sock");

    private VswitchdConfig Config => new(_prefix,
        [
            VswitchdPort.Vhost("vh-a", Socket("vh-a")),
            VswitchdPort.Vhost("vh-b", Socket("vh-b"), mode: "client"),
            VswitchdPort.Vhost("vh-c", Socket("vh-c"), mode: "client"),
        ],
        [new("red", [new("a", "vh-a", MacA, [IpA]), new("b", "vh-b", MacB, [IpB]), new("c", "vh-c", MacC, [IpC])])]);

    public override async ValueTask InitializeAsync() => await StartAsync(Config);

    [Fact]
    public async Task A_killed_VM_and_a_killed_vswitchd_both_come_back_without_an_operator()
    {
        // b and c serve their own sockets; vswitchd (client) connects to them and retries each second.
        await using TestpmdVm b = await TestpmdVm.StartAsync("b", Socket("vh-b"), MacB, IpB, MacA, IpA, server: true);
        await using TestpmdVm c = await TestpmdVm.StartAsync("c", Socket("vh-c"), MacC, IpC, MacB, IpB, server: true);
        TestpmdVm a = await TestpmdVm.StartAsync("a", Socket("vh-a"), MacA, IpA, MacB, IpB);
        try
        {
            await VhostState.WaitAsync(Request, ("vh-a", 1), ("vh-b", 1), ("vh-c", 1));
            await a.SendBurstsAsync(2);
            await CountersAfter(2 * Burst);

            // The VM on vswitchd's server socket dies without a word; frames to it are refused
            // as vhost_not_ready while it is gone, and it comes back on the same socket.
            await a.KillAsync();
            await a.DisposeAsync();
            await VhostState.WaitAsync(Request, ("vh-a", 0));
            await b.SendBurstsAsync(1);
            await CountersAfter(3 * Burst);
            a = await TestpmdVm.StartAsync("a", Socket("vh-a"), MacA, IpA, MacB, IpB);
            await VhostState.WaitAsync(Request, ("vh-a", 2));
            await a.SendBurstsAsync(2);
            await b.SendBurstsAsync(1);
            JsonObject before = await CountersAfter(6 * Burst);
            await a.DrainAsync(DrainTime);
            Assert.Equal(Burst, (await a.PortStatsAsync()).Rx);
            Assert.Equal((ulong)Burst, (ulong)before["drops"]!["vhost_not_ready"]!);

            // vswitchd dies; a new one on the same config finds b and c on their sockets by
            // itself, and c's frames reach b again. (a's frontend is a client: it would need a
            // restart of its own, as a VM on a server socket does.)
            await _vswitchd!.KillAsync();
            await _vswitchd.DisposeAsync();
            _vswitchd = null;
            await StartAsync(Config);
            await VhostState.WaitAsync(Request, ("vh-b", 1), ("vh-c", 1));
            await c.SendBurstsAsync(3);
            JsonObject after = await CountersAfter(3 * Burst);
            Assert.Equal((ulong)(3 * Burst), (ulong)after["ports"]!["vh-b"]!["tx"]!);
            Assert.Equal(0, (long)after["workers"]![0]!["allocated_bytes"]!);
        }
        finally
        {
            await a.DisposeAsync();
        }

        // The books: every frame a frontend sent was delivered or counted, none lost unseen.
        await b.DrainAsync(DrainTime);
        var sentToB = 4 * Burst + 3 * Burst; // a twice 2 bursts, c 3 bursts after the restart
        Assert.Equal(sentToB, (await b.PortStatsAsync()).Rx);
        Assert.Equal(0, (await c.PortStatsAsync()).Rx);
    }
}

/// <summary>
/// A guest that stops draining its receive ring, and vhost ports added and removed over the
/// control socket while other VMs' traffic flows.
/// </summary>
public sealed class VhostRunTimeTests() : RunningVswitchd("vhostrt", TimeSpan.FromSeconds(60))
{
    private const string IpA = "10.0.0.1", IpB = "10.0.0.2", IpX = "10.0.0.9", MacX = "02:00:00:00:00:09";

    private string VhostDir => Path.Combine(_dir, "vhost");
    private string Socket(string port) => Path.Combine(VhostDir, $"{port}.sock");

    public override async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(VhostDir);
        await StartAsync(new VswitchdConfig(_prefix,
            [VswitchdPort.Vhost("vh-a", Socket("vh-a")), VswitchdPort.Vhost("vh-b", Socket("vh-b"))],
            [new("red", [new("a", "vh-a", MacA, [IpA]), new("b", "vh-b", MacB, [IpB])])],
            VhostDir: VhostDir));
    }

    [Fact]
    public async Task A_guest_that_stops_draining_its_ring_loses_only_its_own_frames_counted()
    {
        await using TestpmdVm a = await TestpmdVm.StartAsync("a", Socket("vh-a"), MacA, IpA, MacB, IpB);
        await using TestpmdVm b = await TestpmdVm.StartAsync("b", Socket("vh-b"), MacB, IpB, MacA, IpA);
        await VhostState.WaitAsync(Request, ("vh-a", 1), ("vh-b", 1));

        // b never polls: its receive ring (virtio-user's 256 descriptors) fills, the rest is refused.
        // a sends 4 bursts at a time, which its own 256-descriptor transmit ring always holds.
        const int Sent = 16 * Burst;
        for (int sent = 4 * Burst; sent <= Sent; sent += 4 * Burst)
        {
            await a.SendBurstsAsync(4);
            await CountersAfter((ulong)sent);
        }
        JsonObject counters = await CountersAfter(Sent);
        ulong delivered = (ulong)counters["ports"]!["vh-b"]!["tx"]!, ringFull = (ulong)counters["drops"]!["guest_rx_ring_full"]!;
        Assert.Equal((ulong)Sent, delivered + ringFull);
        Assert.InRange(delivered, 1UL, 256UL);
        Assert.Equal(ringFull, (ulong)counters["ports"]!["vh-b"]!["drops"]!);
        // The stalled guest cost a nothing: b's frames still reach it.
        await b.SendBurstsAsync(2);
        await CountersAfter(Sent + 2 * Burst);
        await a.DrainAsync(DrainTime);
        await b.DrainAsync(DrainTime);
        Assert.Equal((2 * Burst, (long)Sent, 0L), await a.PortStatsAsync());
        Assert.Equal((long)delivered, (await b.PortStatsAsync()).Rx);
    }

    [Fact]
    public async Task A_million_frames_through_guest_vrings_allocate_nothing_on_the_worker()
    {
        await using TestpmdVm a = await TestpmdVm.StartAsync("a", Socket("vh-a"), MacA, IpA, MacB, IpB);
        await using TestpmdVm b = await TestpmdVm.StartAsync("b", Socket("vh-b"), MacB, IpB, MacA, IpA);
        await VhostState.WaitAsync(Request, ("vh-a", 1), ("vh-b", 1));
        ulong start = (ulong)(await Request("counters"))["workers"]![0]!["packets"]!;

        // a sends as fast as it can (dequeue path), b takes every frame it can (enqueue path).
        await b.StartForwardingAsync("rxonly");
        await a.StartForwardingAsync("txonly");
        JsonObject counters = await CountersAfter(start + 1_000_000);
        await a.StopForwardingAsync();
        await b.StopForwardingAsync();

        JsonObject worker = counters["workers"]![0]!.AsObject();
        Assert.True((long)worker["allocated_bytes"]! == 0, counters.ToJsonString());
        // The frames go into b's ring or, when it is full, count as guest_rx_ring_full (the test
        // above checks that accounting). How many made it depends on how much CPU b's poller got
        // beside a's and the worker on 2 shared cores (455 000 of a million once, with a build
        // running beside it): the floor asks that the enqueue path ran, not that b kept up.
        Assert.True((ulong)counters["ports"]!["vh-b"]!["tx"]! >= 100_000, counters.ToJsonString());
    }

    [Fact]
    public async Task A_frame_in_any_descriptor_layout_passes_and_one_over_the_MTU_is_counted()
    {
        await using TestpmdVm a = await TestpmdVm.StartAsync("a", Socket("vh-a"), MacA, IpA, MacB, IpB);
        await using TestpmdVm b = await TestpmdVm.StartAsync("b", Socket("vh-b"), MacB, IpB, MacA, IpA);
        await VhostState.WaitAsync(Request, ("vh-a", 1), ("vh-b", 1));
        JsonObject before = await Request("counters");

        // 60 bytes over three descriptors, the Ethernet and IPv4 headers split between them.
        await a.SetTxSegmentsAsync(14, 20, 26);
        await a.SendBurstsAsync(1);
        // 1600 bytes over two: one mbuf holds it, but it is longer than the port's MTU (1500) allows.
        await a.SetTxSegmentsAsync(1000, 600);
        await a.SendBurstsAsync(1);
        // 2100 bytes: more than an mbuf's 2048, so the library hands it over chained.
        await a.SetTxSegmentsAsync(1100, 1000);
        await a.SendBurstsAsync(1);
        JsonObject after = await CountersAfter((ulong)before["workers"]![0]!["packets"]! + 3 * Burst);
        IReadOnlyList<(int Queue, int Length)> received = await b.ReceiveFramesAsync(DrainTime);

        ulong Delta(string reason) => (ulong)after["drops"]![reason]! - (ulong)before["drops"]![reason]!;
        Assert.Equal(Enumerable.Repeat((0, 60), Burst), received);
        Assert.Equal((ulong)Burst, Delta("oversize"));
        Assert.Equal((ulong)Burst, Delta("multi_segment"));
    }

    [Fact]
    public async Task Vhost_ports_are_added_and_removed_at_run_time_beside_running_VMs()
    {
        await using TestpmdVm a = await TestpmdVm.StartAsync("a", Socket("vh-a"), MacA, IpA, MacB, IpB);
        await using TestpmdVm b = await TestpmdVm.StartAsync("b", Socket("vh-b"), MacB, IpB, MacA, IpA);
        await VhostState.WaitAsync(Request, ("vh-a", 1), ("vh-b", 1));

        // Over the socket, a vhost-user socket must lie in control.vhost_dir.
        JsonObject outside = await _vswitchd!.RequestRawAsync(new JsonObject
        {
            ["op"] = "add-port", ["name"] = "vh-x", ["vhost_user"] = new JsonObject { ["socket"] = Path.Combine(_dir, "vh-x.sock") },
        }, ct: TestContext.Current.CancellationToken);
        Assert.False((bool)outside["ok"]!);
        Assert.Contains($"vhost_user.socket: '{Path.Combine(_dir, "vh-x.sock")}' is not in", (string)outside["error"]!);

        await Request("add-port", new JsonObject { ["name"] = "vh-x", ["vhost_user"] = new JsonObject { ["socket"] = Socket("vh-x") } });
        await Request("add-vm", new JsonObject { ["name"] = "x", ["tenant"] = "red", ["port"] = "vh-x", ["mac"] = MacX, ["ipv4"] = new JsonArray(IpX) });
        await using (TestpmdVm x = await TestpmdVm.StartAsync("x", Socket("vh-x"), MacX, IpX, MacB, IpB))
        {
            await VhostState.WaitAsync(Request, ("vh-x", 1));
            await a.SendBurstsAsync(1);
            await x.SendBurstsAsync(2);
            await CountersAfter(3 * Burst);
            await b.DrainAsync(DrainTime);
            Assert.Equal(3 * Burst, (await b.PortStatsAsync()).Rx);

            await Request("remove-vm", new JsonObject { ["name"] = "x" });
            await Request("remove-port", new JsonObject { ["name"] = "vh-x" });
            JsonObject list = await Request("list");
            Assert.DoesNotContain("vh-x", list.ToJsonString());
        }
        // a and b carry on after the change.
        await a.SendBurstsAsync(1);
        JsonObject counters = await CountersAfter(4 * Burst);
        await b.DrainAsync(DrainTime);
        Assert.Equal(4 * Burst, (await b.PortStatsAsync()).Rx);
        Assert.Equal(0, counters["drops"]!.AsObject().Sum(d => (long)d.Value!));
        Assert.Equal(0, (long)counters["workers"]![0]!["allocated_bytes"]!);
    }
}

/// <summary>Waits on list's vhost_user state.</summary>
internal static class VhostState
{
    /// <summary>One queue's (rx, tx, drops) from a port of the counters report.</summary>
    public static (long Rx, long Tx, long Drops) QueueCounters(JsonNode port, int queue)
    {
        JsonNode q = port["queues"]![queue]!;
        return ((long)q["rx"]!, (long)q["tx"]!, (long)q["drops"]!);
    }

    /// <summary>
    /// Until each port has had <c>Connections</c> frontend connections and is connected with a
    /// receive queue enabled (0: until it is not connected). The count restarts with vswitchd.
    /// </summary>
    public static async Task WaitAsync(Func<string, JsonObject?, Task<JsonObject>> request, params (string Port, int Connections)[] expected)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            JsonObject vhost = (await request("list", null))["vhost_user"]!.AsObject();
            bool Holds((string Port, int Connections) e)
            {
                JsonNode state = vhost[e.Port]!;
                bool connected = (bool)state["connected"]!;
                return e.Connections == 0 ? !connected
                    : connected && (long)state["connections"]! == e.Connections
                        && state["guest_rx_queues"]!.AsArray().Count > 0 && state["guest_tx_queues"]!.AsArray().Count > 0;
            }
            if (expected.All(Holds))
                return;
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new TimeoutException($"vhost ports not as expected ({string.Join(", ", expected)}) within 30 s: {vhost.ToJsonString()}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }
}

/// <summary>
/// A VM with four queue pairs: frames to it are spread by flow hash, and one flow always lands on
/// one queue. The flows come from a net_pcap VM, one UDP source port and one frame length per
/// flow, so the length testpmd prints for each frame names its flow.
/// </summary>
public sealed class VhostMultiqueueTests() : RunningVswitchd("vhostmq", TimeSpan.FromSeconds(60))
{
    private const string IpA = "10.0.0.1", IpB = "10.0.0.2";
    private const int Flows = 64, Queues = 4;

    private string Socket => Path.Combine(_dir, "vh-b.sock");

    public override async ValueTask InitializeAsync()
    {
        string flows = Path.Combine(_dir, "flows.pcap");
        // Flow i: UDP source port 1000 + i, a frame of 60 + i bytes.
        PcapFile.Write(flows, Enumerable.Range(0, Flows).Select(i => Udp(MacA, MacB, IpA, IpB, (ushort)(1000 + i), payload: 18 + i)));
        await StartAsync(new VswitchdConfig(_prefix,
            [new("vm-a", $"net_pcap0,rx_pcap={flows},infinite_rx=1"), VswitchdPort.Vhost("vh-b", Socket, queues: Queues)],
            [new("red", [new("a", "vm-a", MacA, [IpA]), new("b", "vh-b", MacB, [IpB])])]));
    }

    [Fact]
    public async Task Every_flow_lands_on_exactly_one_queue_and_every_queue_gets_flows()
    {
        await using TestpmdVm b = await TestpmdVm.StartAsync("b", Socket, MacB, IpB, MacA, IpA, queues: Queues);
        await VhostState.WaitAsync(Request, ("vh-b", 1));
        JsonObject state = (await Request("list"))["vhost_user"]!["vh-b"]!.AsObject();
        Assert.Equal([0, 1, 2, 3], state["guest_rx_queues"]!.AsArray().Select(q => (int)q!));
        Assert.Equal(Queues, (int)state["queue_pairs"]!);

        // Until the guest had enabled all four, frames of the queues it had not went to those it had
        // (a flow moves once, as the guest brings its queues up): those are drained unread first.
        await b.DrainAsync(TimeSpan.FromMilliseconds(300));
        IReadOnlyList<(int Queue, int Length)> frames = await b.ReceiveFramesAsync(TimeSpan.FromMilliseconds(300));
        var queuesOfFlow = frames.GroupBy(f => f.Length).ToDictionary(g => g.Key - 60, g => g.Select(f => f.Queue).Distinct().Order().ToArray());
        string facts = string.Join(", ", queuesOfFlow.OrderBy(f => f.Key).Select(f => $"flow {f.Key}: queue(s) {string.Join('+', f.Value)}"));
        Assert.True(queuesOfFlow.Count == Flows, $"{queuesOfFlow.Count} of {Flows} flows seen in {frames.Count} frames: {facts}");
        Assert.All(queuesOfFlow, f => Assert.True(f.Value.Length == 1, $"flow {f.Key} on more than one queue: {facts}"));
        Assert.Equal([0, 1, 2, 3], queuesOfFlow.Values.Select(q => q[0]).Distinct().Order());
        JsonObject counters = await Request("counters");
        Assert.Equal(0, (long)counters["workers"]![0]!["allocated_bytes"]!);
        // vswitchd's own per-queue counts agree: b's four receive queues all took frames, and b sent none.
        JsonNode portB = counters["ports"]!["vh-b"]!;
        var queues = Enumerable.Range(0, Queues).Select(q => VhostState.QueueCounters(portB, q)).ToArray();
        Assert.All(queues, q => Assert.True(q.Tx > 0 && q.Rx == 0, portB.ToJsonString()));
        Assert.Single(counters["ports"]!["vm-a"]!["queues"]!.AsArray());
    }
}

/// <summary>
/// 256 VMs on vhost-user ports in one vswitchd, every one with a connected frontend: eight
/// testpmd processes of 32 virtio-user ports each (RTE_MAX_ETHPORTS applies to them too). Traffic
/// between VMs at the start, middle and end of the table, and 100 ports added and removed while
/// it flows.
/// </summary>
public sealed class VhostScaleTests() : RunningVswitchd("vhostscale", TimeSpan.FromSeconds(120))
{
    private const int Vms = 256, PerProcess = 32, Extra = 100;
    private const int First = 0, Middle = 128, Last = Vms - 1;

    private static string Mac(int vm) => $"02:00:00:01:{vm >> 8:x2}:{vm & 0xFF:x2}";
    private static string Ip(int vm) => $"10.1.{vm}.1";
    private static string Name(int vm) => $"vm{vm}";
    private string Socket(string port) => Path.Combine(_dir, $"{port}.sock");

    public override async ValueTask InitializeAsync() => await StartAsync(new VswitchdConfig(_prefix,
        [.. Enumerable.Range(0, Vms).Select(vm => VswitchdPort.Vhost($"vh{vm}", Socket($"vh{vm}")))],
        [new("red", [.. Enumerable.Range(0, Vms).Select(vm => new VswitchdVm(Name(vm), $"vh{vm}", Mac(vm), [Ip(vm)]))])],
        VhostDir: _dir));

    [Fact]
    public async Task Two_hundred_fifty_six_VMs_connect_talk_across_the_table_and_ports_come_and_go_beside_them()
    {
        // Process k holds VMs 32k..32k+31; its port 0 is the one that sends and drains. Process 7
        // lists its VMs from the last down, so VM 255 is its port 0.
        var processes = new List<TestpmdVm>();
        try
        {
            for (int k = 0; k < Vms / PerProcess; k++)
            {
                int[] vms = [.. Enumerable.Range(k * PerProcess, PerProcess)];
                if (k == Vms / PerProcess - 1)
                    Array.Reverse(vms);
                int peer = vms[0] switch { First => Last, Middle => First, Last => Middle, _ => First };
                processes.Add(await TestpmdVm.StartAsync($"s{k}", [.. vms.Select(vm => new VirtioPort(Socket($"vh{vm}"), Mac(vm)))],
                    Ip(vms[0]), Mac(peer), Ip(peer)));
            }
            await VhostState.WaitAsync(Request, [.. Enumerable.Range(0, Vms).Select(vm => ($"vh{vm}", 1))]);
            TestpmdVm first = processes[0], middle = processes[Middle / PerProcess], last = processes[^1];

            // first -> last, middle -> first, last -> middle.
            await first.SendBurstsAsync(2);
            await middle.SendBurstsAsync(2);
            await last.SendBurstsAsync(2);
            await CountersAfter(6 * Burst);

            // 100 ports (each with a VM) come and go while first keeps sending to last.
            int sent = 2 * Burst;
            for (int round = 0; round < 10; round++)
            {
                for (int i = round * 10; i < round * 10 + 10; i++)
                {
                    await Request("add-port", new JsonObject { ["name"] = $"x{i}", ["vhost_user"] = new JsonObject { ["socket"] = Socket($"x{i}") } });
                    await Request("add-vm", new JsonObject { ["name"] = $"x{i}", ["tenant"] = "red", ["port"] = $"x{i}", ["mac"] = $"02:00:00:02:00:{i:x2}" });
                }
                await first.SendBurstsAsync(1);
                sent += Burst;
                await CountersAfter((ulong)(6 * Burst + (round + 1) * Burst));
                if (round % 4 == 3)
                    await last.DrainAsync(DrainTime); // its receive ring holds 256 frames
            }
            JsonObject full = await Request("list");
            Assert.Equal(Vms + Extra, full["ports"]!.AsArray().Count);
            Assert.Equal(Vms, full["vhost_user"]!.AsObject().Count(p => (bool)p.Value!["connected"]!));
            for (int i = 0; i < Extra; i++)
            {
                await Request("remove-vm", new JsonObject { ["name"] = $"x{i}" });
                await Request("remove-port", new JsonObject { ["name"] = $"x{i}" });
            }
            await first.SendBurstsAsync(1);
            sent += Burst;
            JsonObject counters = await CountersAfter((ulong)(4 * Burst + sent));

            await first.DrainAsync(DrainTime);
            await middle.DrainAsync(DrainTime);
            await last.DrainAsync(DrainTime);
            Assert.Equal(2 * Burst, (await first.PortStatsAsync()).Rx);
            Assert.Equal(sent, (await last.PortStatsAsync()).Rx);
            Assert.Equal(2 * Burst, (await middle.PortStatsAsync()).Rx);
            Assert.Equal(0, counters["drops"]!.AsObject().Sum(d => (long)d.Value!));
            Assert.Equal(0, (long)counters["workers"]![0]!["allocated_bytes"]!);
            JsonObject list = await Request("list");
            Assert.Equal(Vms, list["ports"]!.AsArray().Count);
            Assert.Equal(Vms, list["vhost_user"]!.AsObject().Count(p => (bool)p.Value!["connected"]!));
        }
        finally
        {
            foreach (TestpmdVm process in processes)
                await process.DisposeAsync();
        }
    }
}
