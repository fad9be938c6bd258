// vswitchd running for real on DPDK ports, driven over its control socket: millions of frames
// through the worker with zero managed allocation, and VMs and ports changed while traffic flows.
// The input loops forever (net_pcap infinite_rx) and mixes every path of the loop: known
// unicast, flood, ARP responder, a spoofed source, and frames for a VM that is added later.
using System.Text.Json.Nodes;
using PacketDotNet;
using VSwitch.Common.Control;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;

namespace VSwitch.Tests.Integration.Dataplane;

public sealed class RunningSwitchTests() : RunningVswitchd("running", TimeSpan.FromSeconds(60))
{
    private const string MacA = "02:00:00:00:00:01", MacB = "02:00:00:00:00:02", MacC = "02:00:00:00:00:03", MacD = "02:00:00:00:00:04";


    public override async ValueTask InitializeAsync()
    {
        string input = Path.Combine(_dir, "in.pcap");
        PcapFile.Write(input, InputFrames());
        var config = new VswitchdConfig(
            FilePrefix: _prefix,
            Ports:
            [
                new("vm-a", $"net_pcap0,rx_pcap={input},infinite_rx=1"),
                new("vm-b", "net_null0,no-rx=1"),
                new("vm-c", "net_null1,no-rx=1"),
            ],
            Tenants: [new("red", [new("a", "vm-a", MacA, ["10.0.0.1"], FloodRatePps: VswitchdVm.LineRate), new("b", "vm-b", MacB, ["10.0.0.2"]), new("c", "vm-c", MacC, ["10.0.0.3"])])],
            IdleSleepMicroseconds: 0,
            ControlSocket: Path.Combine(_dir, "vswitchd.sock"),
            PcapDir: _dir)
        {
            // Every path of the loop with flow accounting on too: its table allocates nothing either.
            Flows = new JsonObject { ["enabled"] = true },
        };
        _vswitchd = await VswitchdProcess.StartAsync(config, Path.Combine(_dir, "vswitchd.json"), VswitchdReady.ControlSocket);
    }

    private static ulong Tx(JsonObject counters, string port) => (ulong)counters["ports"]![port]!["tx"]!;

    [Fact]
    public async Task A_million_frames_through_DPDK_allocate_nothing_on_the_worker()
    {
        JsonObject counters = await CountersAfter(3_000_000);
        Assert.Equal(0, (long)counters["workers"]![0]!["allocated_bytes"]!);

        // Every path ran: the 8-frame input holds 3 unicast, 1 broadcast, 1 ARP request, 1 spoofed
        // source and 2 frames for the absent VM d (flooded), so the outcomes stand 3 : 3 : 1 : 1.
        // They are read while traffic flows; shares of their own sum are stable to well under 1 %.
        ulong unicast = (ulong)counters["unicast"]!, flooded = (ulong)counters["flooded"]!;
        ulong arp = (ulong)counters["arp_replies"]!, spoofed = (ulong)counters["drops"]!["spoofed_ipv4_source"]!;
        double total = unicast + flooded + arp + spoofed;
        Assert.True(total >= 2_900_000, $"only {total} outcomes counted");
        Assert.InRange(unicast / total, 3 / 8.0 - 0.01, 3 / 8.0 + 0.01);
        Assert.InRange(flooded / total, 3 / 8.0 - 0.01, 3 / 8.0 + 0.01);
        Assert.InRange(arp / total, 1 / 8.0 - 0.01, 1 / 8.0 + 0.01);
        Assert.InRange(spoofed / total, 1 / 8.0 - 0.01, 1 / 8.0 + 0.01);
        Assert.Equal(0UL, (ulong)counters["drops"]!["tx_queue_full"]!);
    }

    [Fact]
    public async Task VMs_and_ports_change_while_traffic_flows()
    {
        await CountersAfter(100_000);

        // Frames for VM d flood until d exists; once d is added with its own port, they go there only.
        await Request("add-port", new JsonObject { ["name"] = "vm-d", ["devargs"] = "net_null2,no-rx=1" });
        JsonObject added = await Request("add-vm", new JsonObject
        {
            ["tenant"] = "red", ["name"] = "d", ["port"] = "vm-d", ["mac"] = MacD, ["ipv4"] = new JsonArray("10.0.0.4"),
        });
        Assert.True((long)added["generation"]! >= 3);
        JsonObject before = await Request("counters");
        JsonObject after = await CountersAfter((ulong)before["workers"]![0]!["packets"]! + 1_000_000);
        // Of every 8 input frames, d now gets the 2 sent to it and the broadcast; b gets 2 unicast + the broadcast.
        double toD = Tx(after, "vm-d") - Tx(before, "vm-d");
        double toB = Tx(after, "vm-b") - Tx(before, "vm-b");
        Assert.InRange(toD / toB, 0.97, 1.03);
        Assert.Equal(0, (long)after["workers"]![0]!["allocated_bytes"]!);

        // Bad requests change nothing and name the field; the switch keeps running.
        var bad = await _vswitchd!.RequestRawAsync(new JsonObject { ["op"] = "add-vm", ["tenant"] = "red", ["name"] = "e", ["port"] = "vm-d", ["mac"] = "02:00:00:00:00:zz" }, ct: TestContext.Current.CancellationToken);
        Assert.False((bool)bad["ok"]!);
        Assert.Contains("mac", (string)bad["error"]!);
        bad = await _vswitchd.RequestRawAsync(new JsonObject { ["op"] = "remove-port", ["name"] = "vm-d" }, ct: TestContext.Current.CancellationToken);
        Assert.Contains("bound to VM 'd'", (string)bad["error"]!);
        bad = await _vswitchd.RequestRawAsync(new JsonObject { ["op"] = "frobnicate" }, ct: TestContext.Current.CancellationToken);
        Assert.Contains("unknown op", (string)bad["error"]!);

        await Request("remove-vm", new JsonObject { ["name"] = "d" });
        await Request("remove-port", new JsonObject { ["name"] = "vm-d" });
        JsonObject list = await Request("list");
        Assert.DoesNotContain("vm-d", list.ToJsonString());
        JsonObject status = await Request("status");
        Assert.Equal("running", (string)status["state"]!);
        JsonObject last = await Request("counters");
        Assert.False(last["ports"]!.AsObject().ContainsKey("vm-d"));
        Assert.Equal(0, (long)last["workers"]![0]!["allocated_bytes"]!);

        // A port added again takes the freed port id, and none of the counts d's port left on it.
        await Request("add-port", new JsonObject { ["name"] = "vm-d", ["devargs"] = "net_null2,no-rx=1" });
        JsonNode again = (await Request("counters"))["ports"]!["vm-d"]!;
        Assert.Equal((long)before["ports"]!["vm-d"]!["port_id"]!, (long)again["port_id"]!);
        Assert.Equal((0L, 0L, 0L), ((long)again["rx"]!, (long)again["tx"]!, (long)again["drops"]!));
        await Request("remove-port", new JsonObject { ["name"] = "vm-d" });
    }

    [Fact]
    public async Task Add_port_refuses_devargs_that_reach_outside_a_VM_port()
    {
        // Over the socket, net_pcap may only write under control.pcap_dir: root would otherwise
        // create (or truncate) any file, and iface= would hand a host interface to a VM.
        string target = $"/etc/vswitchd-add-port-{Guid.NewGuid():N}";
        var refused = await _vswitchd!.RequestRawAsync(
            new JsonObject { ["op"] = "add-port", ["name"] = "evil", ["devargs"] = $"net_pcap8,tx_pcap={target}" }, ct: TestContext.Current.CancellationToken);
        Assert.False((bool)refused["ok"]!);
        Assert.Equal($"add-port: devargs: tx_pcap: '{target}' is not in {_dir} (control.pcap_dir)", (string)refused["error"]!);
        Assert.False(File.Exists(target));
        refused = await _vswitchd.RequestRawAsync(
            new JsonObject { ["op"] = "add-port", ["name"] = "evil", ["devargs"] = "net_pcap8,rx_iface=lo,tx_iface=lo" }, ct: TestContext.Current.CancellationToken);
        Assert.StartsWith("add-port: devargs: net_pcap key 'rx_iface' is not allowed", (string)refused["error"]!);
        JsonObject list = await Request("list");
        Assert.DoesNotContain("evil", list.ToJsonString());
    }

    [Fact]
    public async Task Reads_racing_add_and_remove_port_always_answer()
    {
        // counters reads each port's DPDK stats and status/list its tables while remove-port
        // stops and detaches a port: on its own connection (one connection's requests are
        // served in order), a reader asks without pause while a port comes and goes.
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using ControlClient reader = await ControlClient.ConnectAsync(Path.Combine(_dir, "vswitchd.sock"), ct);
        using var stop = new CancellationTokenSource();
        var failures = new List<string>();
        int reads = 0;
        Task reading = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (string op in new[] { "counters", "status", "list" })
                {
                    JsonObject reply = await reader.RequestRawAsync(new JsonObject { ["op"] = op }, ct);
                    if (!(bool)reply["ok"]!)
                        failures.Add($"{op}: {reply["error"]}");
                    reads++;
                }
            }
        }, ct);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int cycles = 0;
        for (; cycles < 200 && clock.Elapsed < TimeSpan.FromSeconds(20); cycles++)
        {
            await Request("add-port", new JsonObject { ["name"] = "churn", ["devargs"] = "net_null7,no-rx=1" });
            await Request("remove-port", new JsonObject { ["name"] = "churn" });
        }
        stop.Cancel();
        await reading;

        Assert.Empty(failures);
        Assert.True(reads > cycles, $"only {reads} reads over {cycles} add/remove cycles");
        Assert.Equal("running", (string)(await Request("status"))["state"]!);
        Assert.DoesNotContain("churn", (await Request("list")).ToJsonString());
    }

    [Fact]
    public async Task Paths_first_taken_long_after_start_allocate_nothing()
    {
        // The baseline is taken after the first bursts; a drop reason, the responder or a flood
        // first hit minutes later must not allocate either (first-call binding, JIT, class init).
        await CountersAfter(100_000);
        await Task.Delay(500, TestContext.Current.CancellationToken);
        string late = Path.Combine(_dir, "late.pcap");
        PcapFile.Write(late,
        [
            Frame(MacB, "10.0.0.2", MacA, 9, etherType: 0x8100), // vlan_tagged from b
            Frame(MacB, "10.0.0.2", MacA, 9, etherType: 0x86DD), // malformed_ipv6 from b
            Frame(MacB, "10.0.0.2", MacA, 9, etherType: 0x0806), // malformed_arp from b
            Frame(MacA, "10.0.0.2", MacA, 9), // spoofed_source_mac on b's port
            new byte[10], // runt_frame
        ]);
        await Request("add-port", new JsonObject { ["name"] = "late", ["devargs"] = $"net_pcap9,rx_pcap={late},infinite_rx=1" });
        await Request("add-vm", new JsonObject { ["tenant"] = "blue", ["name"] = "late-vm", ["port"] = "late", ["mac"] = MacB, ["ipv4"] = new JsonArray("10.0.0.2") });
        JsonObject before = await Request("counters");
        JsonObject after = await CountersAfter((ulong)before["workers"]![0]!["packets"]! + 1_000_000);
        Assert.Equal(0, (long)after["workers"]![0]!["allocated_bytes"]!);
        foreach (string reason in new[] { "vlan_tagged", "malformed_ipv6", "malformed_arp", "spoofed_source_mac", "runt_frame" })
            Assert.True((ulong)after["drops"]![reason]! >= 1, $"{reason} was never taken: {after["drops"]!.ToJsonString()}");
    }

    [Fact]
    public async Task Add_port_refuses_a_jumbo_MTU()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        // 9000 + 14 bytes cannot fit one 2048-byte mbuf: every such frame would be dropped as multi_segment.
        JsonObject jumbo = await _vswitchd!.RequestRawAsync(new JsonObject { ["op"] = "add-port", ["name"] = "jumbo", ["devargs"] = "net_null7", ["mtu"] = 9000 }, ct: ct);
        Assert.False((bool)jumbo["ok"]!);
        Assert.Contains("ports[3].mtu: 9000 makes frames of 9014 bytes (MTU + the 14-byte Ethernet header), more than the 2048 bytes of one mbuf; at most 2034",
            (string)jumbo["error"]!);
        JsonObject list = await Request("list");
        Assert.DoesNotContain("jumbo", list.ToJsonString());
        Assert.Equal("running", (string)(await Request("status"))["state"]!);
    }

    private static byte[] Frame(string src, string srcIp, string dst, ushort port, ushort etherType = 0x0800)
    {
        var udp = new UdpPacket(port, 4000) { PayloadData = new byte[18] };
        var ip = new IPv4Packet(System.Net.IPAddress.Parse(srcIp), System.Net.IPAddress.Parse("10.0.0.2")) { PayloadPacket = udp, TimeToLive = 64 };
        var eth = new EthernetPacket(Mac(src), Mac(dst), EthernetType.IPv4) { PayloadPacket = ip };
        ip.UpdateCalculatedValues();
        byte[] bytes = eth.Bytes;
        // PacketDotNet derives the EtherType from the payload; a mislabelled frame is the point here.
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(12), etherType);
        return bytes;
    }

    private static byte[][] InputFrames()
    {
        static byte[] Udp(string dst, string srcIp, ushort port) => Frame(MacA, srcIp, dst, port);
        var arp = new EthernetPacket(Mac(MacA), Mac("ff:ff:ff:ff:ff:ff"), EthernetType.Arp)
        {
            PayloadPacket = new ArpPacket(ArpOperation.Request, Mac("00:00:00:00:00:00"), System.Net.IPAddress.Parse("10.0.0.2"),
                Mac(MacA), System.Net.IPAddress.Parse("10.0.0.1")),
        };
        return
        [
            Udp(MacB, "10.0.0.1", 1), Udp(MacC, "10.0.0.1", 2), Udp(MacB, "10.0.0.1", 3),
            Udp("ff:ff:ff:ff:ff:ff", "10.0.0.1", 4), arp.Bytes, Udp(MacB, "10.9.9.9", 5),
            Udp(MacD, "10.0.0.1", 6), Udp(MacD, "10.0.0.1", 7),
        ];
    }

    private static System.Net.NetworkInformation.PhysicalAddress Mac(string text) =>
        System.Net.NetworkInformation.PhysicalAddress.Parse(text.Replace(':', '-').ToUpperInvariant());
}
