// The drop reasons ordinary traffic never takes, each forced through the real worker on DPDK
// ports by a limit of the port (docs/dataplane.md):
//   multi_segment  net_pcap without infinite_rx chains a frame longer than an mbuf's 2048-byte
//                  data room into several segments (with infinite_rx it refuses such frames).
//   encap_exceeds_mtu  a broadcast that fits one mbuf, but not with the 50 bytes of VXLAN headers
//                  in front of it: its head-end replica toward host-b. MTUs are limited to what
//                  one mbuf carries (2034, docs/configuration.md), so this MTU check always comes
//                  before the replica's no_headroom check, which stays only as a guard.
//   tx_queue_full  net_ring's tx ring (1023 frames) is the port's own rx ring: two looping inputs
//                  put 64 frames a worker pass into it, the worker's rx takes 32 back out.
// mbuf_pool_exhausted has no test here: the pool floor (Ports/MbufBudget.cs, MbufBudgetTests)
// refuses any pool smaller than what the rings, caches and bursts in flight can hold, so the
// ring can no longer empty it; the counter stays as a guard.
// Each limit is structural (a length, a ratio of 2:1), not a race:
// the counts do not depend on timing.
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;
using static VSwitch.Tests.Integration.Dataplane.RunningOverlayTests;

namespace VSwitch.Tests.Integration.Dataplane;

/// <summary>Shared by both classes below: a tenant with one remote VM on a VXLAN host.</summary>
internal static class RareDropTopology
{
    public const string MacE = "02:00:00:00:00:05";

    public static VswitchdConfig Config(string prefix, int mbufs, IReadOnlyList<VswitchdPort> ports, IReadOnlyList<VswitchdVm> vms) =>
        new(prefix, [.. ports, new("up0", "net_null9,no-rx=1", Role: "uplink", Mtu: 2034)],
            [new("red", vms, Vni: 5001, RemoteVms: [new("e", "host-b", MacE, ["10.0.0.5"])])],
            IdleSleepMicroseconds: 0)
        {
            Mbufs = mbufs,
            Overlay = new VswitchdOverlay("up0", $"{Vtep}/24", OurMac, [new("host-b", HostB, "vxlan")])
            {
                StaticNeighbours = [(HostB, "02:bb:00:00:00:02")],
            },
        };
}

public sealed class ChainedAndReplicaDropTests() : RunningVswitchd("chained", TimeSpan.FromSeconds(60))
{
    private const int Chained = 3, TooLongToReplicate = 2;

    public override async ValueTask InitializeAsync()
    {
        string input = Path.Combine(_dir, "vm-a.pcap");
        // 3000 bytes: two segments of a 2048-byte data room. 2040 bytes: one segment, but 2090 with the VXLAN headers.
        byte[] jumbo = Udp(MacA, MacB, "10.0.0.1", "10.0.0.2", 1, payload: 3000 - 42);
        byte[] broadcast = Udp(MacA, "ff:ff:ff:ff:ff:ff", "10.0.0.1", "10.0.0.255", 2, payload: 2040 - 42);
        PcapFile.Write(input, [.. Enumerable.Repeat(jumbo, Chained), .. Enumerable.Repeat(broadcast, TooLongToReplicate)]);
        await StartAsync(RareDropTopology.Config(_prefix, 8191,
            [new("vm-a", $"net_pcap0,rx_pcap={input}", Mtu: 2034), new("vm-b", "net_null0,no-rx=1", Mtu: 2034)],
            [new("a", "vm-a", MacA, ["10.0.0.1"]), new("b", "vm-b", MacB, ["10.0.0.2"])]));
    }

    [Fact]
    public async Task Chained_frames_and_replicas_without_room_are_counted_once_per_frame()
    {
        // The worker publishes its packet count after the burst's outcomes: once it has all five, they are final.
        JsonObject counters = await CountersAfter(Chained + TooLongToReplicate);
        JsonNode drops = counters["drops"]!;
        Assert.Equal((ulong)Chained, (ulong)drops["multi_segment"]!);
        // The local copy of each broadcast still goes to vm-b: only the replica is dropped.
        Assert.Equal((ulong)TooLongToReplicate, (ulong)drops["encap_exceeds_mtu"]!);
        Assert.Equal(0UL, (ulong)drops["no_headroom"]!);
        Assert.Equal((ulong)TooLongToReplicate, (ulong)counters["ports"]!["vm-b"]!["tx"]!);
        Assert.Equal(0UL, (ulong)counters["tunnels"]!["host-b"]!["encap"]!);
        Assert.Equal(0, (long)counters["workers"]![0]!["allocated_bytes"]!);
    }
}

/// <summary>
/// c and d broadcast forever (their flood limit lifted); vm-r (a net_ring) gets every copy back on its own rx, where the
/// source is not r's (spoofed_source_mac), and host-b a replica of each. The pool is larger than the
/// ring, so the ring fills.
/// </summary>
public abstract class RingDropTests(string name, int mbufs) : RunningVswitchd(name, TimeSpan.FromSeconds(60))
{
    public override async ValueTask InitializeAsync()
    {
        string fromC = Path.Combine(_dir, "vm-c.pcap"), fromD = Path.Combine(_dir, "vm-d.pcap");
        PcapFile.Write(fromC, [Udp(MacC, "ff:ff:ff:ff:ff:ff", "10.0.0.3", "10.0.0.255", 1)]);
        PcapFile.Write(fromD, [Udp(MacD, "ff:ff:ff:ff:ff:ff", "10.0.0.4", "10.0.0.255", 2)]);
        await StartAsync(RareDropTopology.Config(_prefix, mbufs,
            [
                new("vm-c", $"net_pcap0,rx_pcap={fromC},infinite_rx=1"),
                new("vm-d", $"net_pcap1,rx_pcap={fromD},infinite_rx=1"),
                new("vm-r", "net_ring0"),
            ],
            [
                new("c", "vm-c", MacC, ["10.0.0.3"], FloodRatePps: VswitchdVm.LineRate),
                new("d", "vm-d", MacD, ["10.0.0.4"], FloodRatePps: VswitchdVm.LineRate),
                new("r", "vm-r", MacA, ["10.0.0.1"]),
            ]));
    }

    /// <summary>The reason's count keeps growing while the switch runs on and allocates nothing.</summary>
    protected async Task AssertCountedAndRunning(string reason)
    {
        JsonObject counters = await CountersAfter(200_000);
        ulong first = (ulong)counters["drops"]![reason]!;
        Assert.True(first > 0, counters["drops"]!.ToJsonString());
        JsonObject later = await CountersAfter((ulong)counters["workers"]![0]!["packets"]! + 100_000);
        Assert.True((ulong)later["drops"]![reason]! > first, later["drops"]!.ToJsonString());
        Assert.Equal(0, (long)later["workers"]![0]!["allocated_bytes"]!);
        // Rare paths are where a method is first called late: none may be compiled on the worker.
        Assert.Equal(0, (long)later["workers"]![0]!["jit_methods"]!);
        Assert.Equal("running", (string)(await Request("status"))["state"]!);
    }
}

public sealed class TxQueueFullTests() : RingDropTests("txfull", mbufs: 8191)
{
    [Fact]
    public Task Frames_the_tx_ring_does_not_take_are_counted() => AssertCountedAndRunning("tx_queue_full");
}
