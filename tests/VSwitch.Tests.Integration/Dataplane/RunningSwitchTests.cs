// vswitchd running for real on DPDK ports, driven over its control socket: millions of frames
// through the worker with zero managed allocation, and VMs and ports changed while traffic flows.
// The input loops forever (net_pcap infinite_rx) and mixes every path of the loop: known
// unicast, flood, ARP responder, a spoofed source, and frames for a VM that is added later.
using System.Diagnostics;
using System.Text.Json.Nodes;
using PacketDotNet;
using VSwitch.Dataplane.ControlSocket;
using Xunit;

namespace VSwitch.Tests.Integration.Dataplane;

public sealed class RunningSwitchTests : IAsyncLifetime
{
    private const string MacA = "02:00:00:00:00:01", MacB = "02:00:00:00:00:02", MacC = "02:00:00:00:00:03", MacD = "02:00:00:00:00:04";
    private static readonly string s_vswitchd = Path.Combine(AppContext.BaseDirectory, "vswitchd");

    private readonly string _dir = Directory.CreateTempSubdirectory("vsw-running-").FullName;
    private readonly string _prefix = $"vswrun{Environment.ProcessId}";
    private Process? _process;
    private ControlClient? _control;

    private string Socket => Path.Combine(_dir, "vswitchd.sock");

    public async ValueTask InitializeAsync()
    {
        WriteInput(Path.Combine(_dir, "in.pcap"));
        File.WriteAllText(Path.Combine(_dir, "vswitchd.yaml"), $$"""
            dpdk:
              eal_args: ["--no-huge", "-m", "512", "--no-pci", "-l", "0,1", "--file-prefix", "{{_prefix}}"]
            workers: {cores: [1], idle_sleep_us: 0}
            control_socket: {{Socket}}
            ports:
              - {name: vm-a, devargs: "net_pcap0,rx_pcap={{_dir}}/in.pcap,infinite_rx=1"}
              - {name: vm-b, devargs: "net_null0,no-rx=1"}
              - {name: vm-c, devargs: "net_null1,no-rx=1"}
            tenants:
              - name: red
                vms:
                  - {name: a, port: vm-a, mac: "{{MacA}}", ipv4: ["10.0.0.1"]}
                  - {name: b, port: vm-b, mac: "{{MacB}}", ipv4: ["10.0.0.2"]}
                  - {name: c, port: vm-c, mac: "{{MacC}}", ipv4: ["10.0.0.3"]}
            """);
        _process = Process.Start(new ProcessStartInfo(s_vswitchd, ["run", "--config", Path.Combine(_dir, "vswitchd.yaml")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (_control is null)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"vswitchd exited with {_process.ExitCode} before its control socket came up");
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new TimeoutException("vswitchd's control socket did not come up within 30 s");
            try
            {
                _control = await ControlClient.ConnectAsync(Socket);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
            {
                await Task.Delay(100);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_control is not null)
        {
            try
            {
                await _control.RequestAsync(new JsonObject { ["op"] = "shutdown" });
            }
            catch (Exception)
            {
                // Already gone; the kill below covers it.
            }
            await _control.DisposeAsync();
        }
        if (_process is not null)
        {
            if (!_process.WaitForExit(15_000))
                _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
        Directory.Delete(_dir, recursive: true);
        if (Directory.Exists($"/var/run/dpdk/{_prefix}"))
            Directory.Delete($"/var/run/dpdk/{_prefix}", recursive: true);
    }

    private async Task<JsonObject> Request(string op, JsonObject? fields = null)
    {
        var request = fields ?? new JsonObject();
        request["op"] = op;
        return await _control!.RequestAsync(request, TestContext.Current.CancellationToken);
    }

    private async Task<JsonObject> CountersAfter(ulong packets)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            JsonObject counters = await Request("counters");
            if ((ulong)counters["workers"]![0]!["packets"]! >= packets && (long)counters["workers"]![0]!["allocated_bytes"]! >= 0)
                return counters;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"fewer than {packets} packets after 60 s: {counters.ToJsonString()}");
            await Task.Delay(50);
        }
    }

    private static ulong Tx(JsonObject counters, string port) => (ulong)counters["ports"]![port]!["tx"]!;

    [Fact]
    public async Task AMillionFramesThroughDpdkAllocateNothingOnTheWorker()
    {
        JsonObject counters = await CountersAfter(3_000_000);
        ulong packets = (ulong)counters["workers"]![0]!["packets"]!;

        Assert.Equal(0, (long)counters["workers"]![0]!["allocated_bytes"]!);
        // Every path ran: the 8-frame input holds 3 unicast, 1 flood, 1 ARP, 1 spoof and 2 frames for
        // the absent VM d. Counters are read while traffic flows, one after another, so compare
        // shares within 1 %.
        ulong slack = packets / 100;
        Assert.InRange((ulong)counters["unicast"]!, packets / 8 * 3 - slack, packets / 8 * 3 + slack);
        Assert.True((ulong)counters["flooded"]! > packets / 8 * 2, "broadcast and frames for the unknown MAC flood");
        Assert.InRange((ulong)counters["arp_replies"]!, packets / 8 - slack, packets / 8 + slack);
        Assert.InRange((ulong)counters["drops"]!["spoofed_ipv4_source"]!, packets / 8 - slack, packets / 8 + slack);
        Assert.Equal(0UL, (ulong)counters["drops"]!["tx_queue_full"]!);
    }

    [Fact]
    public async Task VmsAndPortsChangeWhileTrafficFlows()
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
        ulong toD = Tx(after, "vm-d") - Tx(before, "vm-d");
        ulong packets = (ulong)after["workers"]![0]!["packets"]! - (ulong)before["workers"]![0]!["packets"]!;
        Assert.InRange(toD, packets / 8 * 3 - packets / 100, packets / 8 * 3 + packets / 100); // 2 unicast to d + the broadcast
        Assert.Equal(0, (long)after["workers"]![0]!["allocated_bytes"]!);

        // Bad requests change nothing and name the field; the switch keeps running.
        var bad = await _control!.RequestRawAsync(new JsonObject { ["op"] = "add-vm", ["tenant"] = "red", ["name"] = "e", ["port"] = "vm-d", ["mac"] = "02:00:00:00:00:zz" });
        Assert.False((bool)bad["ok"]!);
        Assert.Contains("mac", (string)bad["error"]!);
        bad = await _control.RequestRawAsync(new JsonObject { ["op"] = "remove-port", ["name"] = "vm-d" });
        Assert.Contains("bound to VM 'd'", (string)bad["error"]!);
        bad = await _control.RequestRawAsync(new JsonObject { ["op"] = "frobnicate" });
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
    }

    private static void WriteInput(string path)
    {
        byte[] Udp(string dst, string srcIp, ushort port)
        {
            var udp = new UdpPacket(port, 4000) { PayloadData = new byte[18] };
            var ip = new IPv4Packet(System.Net.IPAddress.Parse(srcIp), System.Net.IPAddress.Parse("10.0.0.2")) { PayloadPacket = udp, TimeToLive = 64 };
            var eth = new EthernetPacket(Mac(MacA), Mac(dst), EthernetType.IPv4) { PayloadPacket = ip };
            ip.UpdateCalculatedValues();
            return eth.Bytes;
        }
        var arp = new EthernetPacket(Mac(MacA), Mac("ff:ff:ff:ff:ff:ff"), EthernetType.Arp)
        {
            PayloadPacket = new ArpPacket(ArpOperation.Request, Mac("00:00:00:00:00:00"), System.Net.IPAddress.Parse("10.0.0.2"),
                Mac(MacA), System.Net.IPAddress.Parse("10.0.0.1")),
        };
        byte[][] frames =
        [
            Udp(MacB, "10.0.0.1", 1), Udp(MacC, "10.0.0.1", 2), Udp(MacB, "10.0.0.1", 3),
            Udp("ff:ff:ff:ff:ff:ff", "10.0.0.1", 4), arp.Bytes, Udp(MacB, "10.9.9.9", 5),
            Udp(MacD, "10.0.0.1", 6), Udp(MacD, "10.0.0.1", 7),
        ];
        using var file = new BinaryWriter(File.Create(path));
        file.Write(0xA1B2C3D4u); file.Write((ushort)2); file.Write((ushort)4); file.Write(0); file.Write(0u); file.Write(65535u); file.Write(1u);
        foreach (byte[] frame in frames)
        {
            file.Write(0u); file.Write(0u); file.Write((uint)frame.Length); file.Write((uint)frame.Length);
            file.Write(frame);
        }
    }

    private static System.Net.NetworkInformation.PhysicalAddress Mac(string text) =>
        System.Net.NetworkInformation.PhysicalAddress.Parse(text.Replace(':', '-').ToUpperInvariant());
}
