// vswitchd with an overlay, running for real on DPDK ports: millions of frames encapsulated
// (VXLAN, GENEVE with an option, head-end replicas) and decapsulated with zero managed
// allocation on the worker. Both inputs loop forever (net_pcap infinite_rx): the VM port sends
// toward remote VMs, the uplink receives from the remote hosts.
using System.Buffers.Binary;
using System.Text.Json.Nodes;
using PacketDotNet;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;

namespace VSwitch.Tests.Integration.Dataplane;

public sealed class RunningOverlayTests() : RunningVswitchd("overlay", TimeSpan.FromSeconds(90))
{
    internal const string MacA = "02:00:00:00:00:01", MacB = "02:00:00:00:00:02", MacC = "02:00:00:00:00:03", MacD = "02:00:00:00:00:04";
    internal const string Vtep = "192.168.50.1", HostB = "192.168.50.2", HostC = "192.168.50.3", OurMac = "02:aa:00:00:00:01";


    public override async ValueTask InitializeAsync()
    {
        string fromVm = Path.Combine(_dir, "vm.pcap"), fromUplink = Path.Combine(_dir, "uplink.pcap");
        PcapFile.Write(fromVm,
        [
            Udp(MacA, MacC, "10.0.0.1", "10.0.0.3", 1), // VXLAN to host-b
            Udp(MacA, MacD, "10.0.0.1", "10.0.0.4", 2), // GENEVE to host-c
            Udp(MacA, MacC, "10.0.0.1", "10.0.0.3", 3),
            Udp(MacA, "ff:ff:ff:ff:ff:ff", "10.0.0.1", "10.0.0.255", 4), // vm-b + a replica per host
        ]);
        byte[] option = [0x01, 0x02, 0x80, 0x02, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
        PcapFile.Write(fromUplink,
        [
            Outer(HostB, 4789, [0x08, 0, 0, 0, 0, 0x13, 0x89, 0, .. Udp(MacC, MacA, "10.0.0.3", "10.0.0.1", 5)]),
            Outer(HostC, 6081, [0x03, 0x40, 0x65, 0x58, 0, 0x13, 0x89, 0, .. option, .. Udp(MacD, MacB, "10.0.0.4", "10.0.0.2", 6)]),
            Outer(HostB, 4789, [0x08, 0, 0, 0, 0, 0x13, 0x89, 0, .. Udp(MacC, "ff:ff:ff:ff:ff:ff", "10.0.0.3", "10.0.0.255", 7)]),
            Outer(HostB, 4789, [0x08, 0, 0, 0, 0, 0x00, 0x77, 0, .. Udp(MacC, MacA, "10.0.0.3", "10.0.0.1", 8)]), // unknown VNI
        ]);
        await StartAsync(new VswitchdConfig(_prefix,
            [
                new("vm-a", $"net_pcap0,rx_pcap={fromVm},infinite_rx=1", Mtu: 1450),
                new("vm-b", "net_null0,no-rx=1", Mtu: 1450),
                new("up0", $"net_pcap1,rx_pcap={fromUplink},infinite_rx=1,tx_pcap=/dev/null", Role: "uplink"),
            ],
            [
                new("red",
                    [
                        // a floods at line rate here: the limit would hide the replica paths under test
                        new("a", "vm-a", MacA, ["10.0.0.1"], FloodRatePps: VswitchdVm.LineRate),
                        new("b", "vm-b", MacB, ["10.0.0.2"]),
                    ],
                    Vni: 5001,
                    RemoteVms: [new("c", "host-b", MacC, ["10.0.0.3"]), new("d", "host-c", MacD, ["10.0.0.4"])]),
            ],
            IdleSleepMicroseconds: 0)
        {
            Overlay = new VswitchdOverlay("up0", $"{Vtep}/24", OurMac,
                [new("host-b", HostB, "vxlan"), new("host-c", HostC, "geneve", [new VswitchdGeneveOption(0x0102, 0x80, "0011223344556677")])])
            {
                StaticNeighbours = [(HostB, "02:bb:00:00:00:02"), (HostC, "02:bb:00:00:00:03")],
            },
        });
    }

    [Fact]
    public async Task Encapsulation_and_decapsulation_allocate_nothing_on_the_worker()
    {
        JsonObject counters = await CountersAfter(2_000_000);
        Assert.Equal(0, (long)counters["workers"]![0]!["allocated_bytes"]!);

        // Every overlay path ran, in the proportions the inputs set.
        JsonObject tunnels = counters["tunnels"]!.AsObject();
        ulong encapB = (ulong)tunnels["host-b"]!["encap"]!, encapC = (ulong)tunnels["host-c"]!["encap"]!;
        ulong decapB = (ulong)tunnels["host-b"]!["decap"]!, decapC = (ulong)tunnels["host-c"]!["decap"]!;
        Assert.True(encapB > 100_000 && encapC > 100_000 && decapB > 100_000 && decapC > 100_000, tunnels.ToJsonString());
        // Per 4 VM frames host-b gets 3 (2 unicast + a replica), host-c 2 (1 + a replica).
        Assert.InRange(encapB / (double)encapC, 1.45, 1.55);
        // Per 4 uplink frames host-b gives 2 decapsulated (unicast, broadcast) and host-c 1, each with one option.
        Assert.InRange(decapB / (double)decapC, 1.9, 2.1);
        // Read while traffic flows, a moment after decap: within one frame below it, a few bursts above.
        Assert.InRange((ulong)tunnels["host-c"]!["geneve_options"]!, decapC - 1, decapC + 256);
        Assert.True((ulong)counters["drops"]!["unknown_vni"]! > 100_000);
        Assert.Equal(0UL, (ulong)counters["drops"]!["neighbour_unresolved"]!);
        Assert.Equal(0UL, (ulong)counters["drops"]!["mbuf_pool_exhausted"]!);

        JsonObject neighbours = await Request("neighbours");
        Assert.Equal(["static", "static"], neighbours["neighbours"]!.AsArray().Select(n => (string)n!["state"]!));
    }

    [Fact]
    public async Task Remote_VMs_change_while_traffic_flows()
    {
        await CountersAfter(100_000);
        // Without red-c, frames to it flood (vm-b and both hosts); with it back, they are unicast again.
        await Request("remove-remote-vm", new JsonObject { ["name"] = "c" });
        JsonObject list = await Request("list");
        Assert.DoesNotContain("\"c\"", list["remote_vms"]!.ToJsonString());
        var bad = await _vswitchd!.RequestRawAsync(new JsonObject { ["op"] = "add-remote-vm", ["tenant"] = "red", ["name"] = "c", ["host"] = "host-x", ["mac"] = MacC },
            ct: TestContext.Current.CancellationToken);
        Assert.False((bool)bad["ok"]!);
        Assert.Contains("host: 'host-x' is not one of overlay.remote_hosts", (string)bad["error"]!);
        await Request("add-remote-vm", new JsonObject { ["tenant"] = "red", ["name"] = "c", ["host"] = "host-b", ["mac"] = MacC, ["ipv4"] = new JsonArray("10.0.0.3") });
        JsonObject after = await CountersAfter((ulong)(await Request("counters"))["workers"]![0]!["packets"]! + 500_000);
        Assert.Equal(0, (long)after["workers"]![0]!["allocated_bytes"]!);
        Assert.Equal(2, (await Request("status"))["remote_vms"]!.GetValue<int>());
    }

    internal static byte[] Udp(string src, string dst, string srcIp, string dstIp, ushort port, int payload = 18)
    {
        var udp = new UdpPacket(port, 4000) { PayloadData = new byte[payload] };
        var ip = new IPv4Packet(System.Net.IPAddress.Parse(srcIp), System.Net.IPAddress.Parse(dstIp)) { PayloadPacket = udp, TimeToLive = 64 };
        var eth = new EthernetPacket(Mac(src), Mac(dst), EthernetType.IPv4) { PayloadPacket = ip };
        ip.UpdateCalculatedValues();
        ip.UpdateIPChecksum();
        return eth.Bytes;
    }

    /// <summary>Ethernet/IPv4/UDP from a remote VTEP to ours around a tunnel header and inner frame.</summary>
    internal static byte[] Outer(string source, ushort port, byte[] tunnel)
    {
        var udp = new UdpPacket(50000, port) { PayloadData = tunnel };
        var ip = new IPv4Packet(System.Net.IPAddress.Parse(source), System.Net.IPAddress.Parse(Vtep)) { PayloadPacket = udp, TimeToLive = 64 };
        var eth = new EthernetPacket(Mac("02:bb:00:00:00:02"), Mac(OurMac), EthernetType.IPv4) { PayloadPacket = ip };
        ip.UpdateCalculatedValues();
        ip.UpdateIPChecksum();
        byte[] bytes = eth.Bytes;
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(40), 0); // no UDP checksum, as VTEPs send
        return bytes;
    }

    internal static System.Net.NetworkInformation.PhysicalAddress Mac(string text) =>
        System.Net.NetworkInformation.PhysicalAddress.Parse(text.Replace(':', '-').ToUpperInvariant());
}
