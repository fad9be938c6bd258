// VM queues and several workers, on real DPDK ports: a flow always lands on one queue of the VM,
// flows spread over its queues, and two workers each transmitting on their own tx queues
// forward everything without a lock or an allocation.
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using PacketDotNet;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;

namespace VSwitch.Tests.Integration.Dataplane;

public sealed class QueueTests : IDisposable
{
    private const string MacA = "02:00:00:00:00:01", MacB = "02:00:00:00:00:02";
    private readonly string _dir = Directory.CreateTempSubdirectory("vsw-queues-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Udp(ushort sourcePort, byte marker)
    {
        var udp = new UdpPacket(sourcePort, 4000) { PayloadData = [marker, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] };
        var ip = new IPv4Packet(IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2")) { PayloadPacket = udp, TimeToLive = 64 };
        var eth = new EthernetPacket(PhysicalMac(MacA), PhysicalMac(MacB), EthernetType.IPv4) { PayloadPacket = ip };
        ip.UpdateCalculatedValues();
        return eth.Bytes;
    }

    private static System.Net.NetworkInformation.PhysicalAddress PhysicalMac(string mac) =>
        System.Net.NetworkInformation.PhysicalAddress.Parse(mac.Replace(':', '-').ToUpperInvariant());

    [Fact]
    public async Task Each_flow_stays_on_one_queue_and_flows_spread_over_the_VMs_queues()
    {
        // 64 flows (UDP source ports), 4 frames each, interleaved so that a queue choice made
        // per frame rather than per flow would scatter a flow.
        string input = Path.Combine(_dir, "in.pcap"), empty = Path.Combine(_dir, "empty.pcap");
        PcapFile.Write(input, Enumerable.Range(0, 4).SelectMany(round => Enumerable.Range(0, 64).Select(flow => Udp((ushort)(1000 + flow), (byte)round))));
        PcapFile.Write(empty, []);
        string q0 = Path.Combine(_dir, "b-q0.pcap"), q1 = Path.Combine(_dir, "b-q1.pcap");
        var config = new VswitchdConfig(
            FilePrefix: $"vswq{Environment.ProcessId}",
            Ports:
            [
                new("vm-a", $"net_pcap0,rx_pcap={input},tx_pcap={Path.Combine(_dir, "a.pcap")}"),
                new("vm-b", $"net_pcap1,rx_pcap={empty},rx_pcap={empty},tx_pcap={q0},tx_pcap={q1}", Queues: 2),
            ],
            Tenants: [new("red", [new("a", "vm-a", MacA, ["10.0.0.1"]), new("b", "vm-b", MacB, ["10.0.0.2"])])],
            ControlSocket: Path.Combine(_dir, "vswitchd.sock"));
        string configPath = Path.Combine(_dir, "vswitchd.json");
        await File.WriteAllTextAsync(configPath, config.ToJson().ToJsonString(), TestContext.Current.CancellationToken);
        await using VswitchdProcess vswitchd = await VswitchdProcess.StartAsync(configPath, config.FilePrefix, config.ControlSocket, VswitchdReady.Started,
            offline: true);
        await vswitchd.WaitForStateAsync("drained", TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        await vswitchd.StopAsync(VswitchdStop.ShutdownRequest, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        var queueOfFlow = new Dictionary<ushort, int>();
        int[] perQueue = new int[2];
        foreach ((string file, int queue) in new[] { (q0, 0), (q1, 1) })
        {
            foreach (PcapFrame frame in PcapFile.Read(file))
            {
                ushort flow = (ushort)(frame.Data[34] << 8 | frame.Data[35]);
                Assert.True(queueOfFlow.TryAdd(flow, queue) || queueOfFlow[flow] == queue, $"flow {flow} reached both queues");
                perQueue[queue]++;
            }
        }
        Assert.Equal(64, queueOfFlow.Count);
        Assert.Equal(256, perQueue.Sum());
        Assert.All(perQueue, n => Assert.InRange(n, 64, 192)); // both queues used: 1024 flows in unit tests spread within 25 %
    }

    [Fact]
    public async Task Two_workers_forward_on_their_own_tx_queues_without_allocating()
    {
        string input = Path.Combine(_dir, "in.pcap");
        PcapFile.Write(input, Enumerable.Range(0, 256).Select(flow => Udp((ushort)(2000 + flow), 0)));
        // vm-a has two rx queues, one per worker, and 2 x 2 tx queues; vm-b gets one tx queue per worker.
        var config = new VswitchdConfig(
            FilePrefix: $"vswq2{Environment.ProcessId}",
            Ports:
            [
                new("vm-a", $"net_pcap0,rx_pcap={input},rx_pcap={input},infinite_rx=1,{string.Join(',', Enumerable.Repeat("tx_pcap=/dev/null", 4))}", Queues: 2),
                new("vm-b", "net_null0,no-rx=1"),
            ],
            Tenants: [new("red", [new("a", "vm-a", MacA, ["10.0.0.1"]), new("b", "vm-b", MacB, ["10.0.0.2"])])],
            WorkerCores: [0, 1],
            IdleSleepMicroseconds: 0,
            ControlSocket: Path.Combine(_dir, "vswitchd.sock"));
        await using VswitchdProcess vswitchd = await VswitchdProcess.StartAsync(config, Path.Combine(_dir, "vswitchd.json"), VswitchdReady.ControlSocket);

        var clock = Stopwatch.StartNew();
        JsonObject counters;
        do
        {
            await Task.Delay(200, TestContext.Current.CancellationToken);
            counters = await vswitchd.RequestAsync(new JsonObject { ["op"] = "counters" }, ct: TestContext.Current.CancellationToken);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"workers did not each reach 500k frames: {counters.ToJsonString()}");
        }
        while (counters["workers"]!.AsArray().Any(w => (ulong)w!["packets"]! < 500_000 || (long)w["allocated_bytes"]! < 0));

        JsonArray workers = counters["workers"]!.AsArray();
        Assert.Equal(2, workers.Count);
        Assert.All(workers, w => Assert.Equal(0, (long)w!["allocated_bytes"]!));
        Assert.Equal(0UL, (ulong)counters["drops"]!["tx_queue_full"]!);
        Assert.True((ulong)counters["unicast"]! >= 1_000_000);
    }
}
