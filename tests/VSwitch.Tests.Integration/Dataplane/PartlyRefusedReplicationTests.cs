// Head-end replication when one of a tenant's remote hosts cannot take its copy: host-b's next
// hop never resolves (no static neighbour, and offline nothing answers the ARP request), while
// host-c and host-d are resolved. Each broadcast of vm-a then costs one neighbour_unresolved
// drop, and the two copies that go leave in endpoint order, each carrying its own broadcast: the
// refused replica's mbuf goes back to the pool, and a staged one never does (the lcore cache hands
// a freed mbuf straight to the next allocation, so a staged copy freed by mistake would show up
// overwritten by a later broadcast's copy).
using System.Buffers.Binary;
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;
using static VSwitch.Tests.Integration.Dataplane.RunningOverlayTests;

namespace VSwitch.Tests.Integration.Dataplane;

public sealed class PartlyRefusedReplicationTests : IDisposable
{
    private const int Broadcasts = 8;
    private const string HostD = "192.168.50.4";
    // Ethernet, IPv4, UDP and VXLAN in front of the inner frame; the outer IPv4 destination at 30.
    private const int VxlanOuterLength = 50, OuterDestinationOffset = 30;
    private readonly string _dir = Directory.CreateTempSubdirectory("vsw-replicas-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_host_that_cannot_take_its_copy_costs_that_copy_only_and_the_others_leave_in_order()
    {
        string input = Path.Combine(_dir, "vm-a.pcap"), empty = Path.Combine(_dir, "empty.pcap"), uplinkOut = Path.Combine(_dir, "uplink-out.pcap");
        byte[][] broadcasts = [.. Enumerable.Range(0, Broadcasts).Select(i => Udp(MacA, "ff:ff:ff:ff:ff:ff", "10.0.0.1", "10.0.0.255", (ushort)(100 + i)))];
        PcapFile.Write(input, broadcasts);
        PcapFile.Write(empty, []);
        var config = new VswitchdConfig($"vswrepl{Environment.ProcessId}",
            [
                new("vm-a", $"net_pcap0,rx_pcap={input}"),
                new("vm-b", "net_null0,no-rx=1"),
                new("up0", $"net_pcap1,rx_pcap={empty},tx_pcap={uplinkOut}", Role: "uplink"),
            ],
            [
                new("red", [new("a", "vm-a", MacA, ["10.0.0.1"], FloodRatePps: VswitchdVm.LineRate), new("b", "vm-b", MacB, ["10.0.0.2"])],
                    Vni: 5001,
                    RemoteVms: [new("c", "host-b", MacC, ["10.0.0.3"]), new("d", "host-c", MacD, ["10.0.0.4"]), new("e", "host-d", "02:00:00:00:00:05", ["10.0.0.5"])]),
            ],
            ControlSocket: Path.Combine(_dir, "vswitchd.sock"))
        {
            Overlay = new VswitchdOverlay("up0", $"{Vtep}/24", OurMac,
                [new("host-b", HostB, "vxlan"), new("host-c", HostC, "vxlan"), new("host-d", HostD, "vxlan")])
            {
                StaticNeighbours = [(HostC, "02:bb:00:00:00:03"), (HostD, "02:bb:00:00:00:04")],
            },
        };
        string configPath = await config.WriteAsync(Path.Combine(_dir, "vswitchd.json"));
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using VswitchdProcess vswitchd = await VswitchdProcess.StartAsync(configPath, config.FilePrefix, config.ControlSocket, VswitchdReady.Started, offline: true);
        await vswitchd.WaitForStateAsync("drained", TimeSpan.FromSeconds(60), ct);
        JsonObject counters = await vswitchd.StopAsync(VswitchdStop.ShutdownRequest, TimeSpan.FromSeconds(30), ct);

        Assert.Equal((ulong)Broadcasts, (ulong)counters["drops"]!["neighbour_unresolved"]!);
        Assert.Equal(0UL, (ulong)counters["tunnels"]!["host-b"]!["encap"]!);
        Assert.Equal((ulong)Broadcasts, (ulong)counters["tunnels"]!["host-c"]!["encap"]!);
        Assert.Equal((ulong)Broadcasts, (ulong)counters["tunnels"]!["host-d"]!["encap"]!);
        Assert.Equal((ulong)Broadcasts, (ulong)counters["ports"]!["vm-b"]!["tx"]!);

        // The uplink also carries the resolver's ARP request for host-b: only the IPv4 frames are replicas.
        List<byte[]> replicas = [.. PcapFile.Read(uplinkOut).Select(f => f.Data).Where(d => BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(12)) == 0x0800)];
        Assert.Equal(2 * Broadcasts, replicas.Count);
        for (int i = 0; i < replicas.Count; i++)
        {
            string destination = new System.Net.IPAddress(replicas[i].AsSpan(OuterDestinationOffset, 4)).ToString();
            Assert.Equal(i % 2 == 0 ? HostC : HostD, destination);
            Assert.Equal(broadcasts[i / 2], replicas[i].AsSpan(VxlanOuterLength).ToArray());
        }
    }
}
