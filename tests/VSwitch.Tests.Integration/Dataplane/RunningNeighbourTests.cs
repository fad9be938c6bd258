// Neighbour resolution end to end on DPDK ports: no static neighbour, so vswitchd must send an
// ARP request for host-b's VTEP from the uplink, learn host-b's reply (which the uplink's input
// repeats), publish the MAC to the worker, and then encapsulate. Until then frames toward host-b
// are dropped as neighbour_unresolved.
using System.Diagnostics;
using System.Text.Json.Nodes;
using PacketDotNet;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;
using static VSwitch.Tests.Integration.Dataplane.RunningOverlayTests;

namespace VSwitch.Tests.Integration.Dataplane;

public sealed class RunningNeighbourTests() : RunningVswitchd("neighbour", TimeSpan.FromSeconds(60))
{
    private const string HostBMac = "02:bb:00:00:00:02";


    public override async ValueTask InitializeAsync()
    {
        string fromVm = Path.Combine(_dir, "vm.pcap"), fromUplink = Path.Combine(_dir, "uplink.pcap");
        PcapFile.Write(fromVm, [Udp(MacA, MacC, "10.0.0.1", "10.0.0.3", 1)]);
        var reply = new EthernetPacket(Mac(HostBMac), Mac(OurMac), EthernetType.Arp)
        {
            PayloadPacket = new ArpPacket(ArpOperation.Response, Mac(OurMac), System.Net.IPAddress.Parse(Vtep), Mac(HostBMac), System.Net.IPAddress.Parse(HostB)),
        };
        PcapFile.Write(fromUplink, [reply.Bytes]);
        // idle_sleep_us keeps the worker from taking a whole core: the uplink's input is one frame.
        await StartAsync(new VswitchdConfig(_prefix,
            [
                new("vm-a", $"net_pcap0,rx_pcap={fromVm},infinite_rx=1", Mtu: 1450),
                new("up0", $"net_pcap1,rx_pcap={fromUplink},infinite_rx=1,tx_pcap=/dev/null", Role: "uplink"),
            ],
            [new("red", [new("a", "vm-a", MacA, ["10.0.0.1"])], Vni: 5001, RemoteVms: [new("c", "host-b", MacC, ["10.0.0.3"])])],
            IdleSleepMicroseconds: 100)
        {
            Overlay = new VswitchdOverlay("up0", $"{Vtep}/24", OurMac, [new("host-b", HostB, "vxlan")]),
        });
    }

    [Fact]
    public async Task The_next_hop_is_asked_for_learned_and_used()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var clock = Stopwatch.StartNew();
        JsonObject neighbour;
        while (true)
        {
            neighbour = (JsonObject)(await _vswitchd!.OpAsync("neighbours", ct: ct))["neighbours"]![0]!;
            if ((string)neighbour["state"]! == "resolved")
                break;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"not resolved after 30 s: {neighbour.ToJsonString()}");
            await Task.Delay(50, ct);
        }
        Assert.Equal(HostB, (string)neighbour["ip"]!);
        Assert.Equal(HostBMac, (string)neighbour["mac"]!);

        JsonObject before = await _vswitchd.OpAsync("counters", ct: ct);
        JsonObject after = await _vswitchd.CountersAfterAsync((ulong)before["workers"]![0]!["packets"]! + 200_000, TimeSpan.FromSeconds(60), ct);
        Assert.True((ulong)after["arp_requests_sent"]! >= 1, after.ToJsonString());
        Assert.True((ulong)after["neighbour_replies"]! > 0);
        // Once resolved, every frame toward host-b is encapsulated: drops stop growing.
        ulong encapsulated = (ulong)after["encapsulated"]! - (ulong)before["encapsulated"]!;
        ulong unresolved = (ulong)after["drops"]!["neighbour_unresolved"]! - (ulong)before["drops"]!["neighbour_unresolved"]!;
        Assert.True(encapsulated > 50_000, $"{encapsulated} encapsulated");
        Assert.Equal(0UL, unresolved);
        Assert.Equal(0, (long)after["workers"]![0]!["allocated_bytes"]!);
    }
}
