// vswitchd's /metrics scraped by a real Prometheus server while paced senders drive known traffic
// into two tenants' VM ports (af_packet on veth pairs; the senders write raw frames to the peers):
// what Prometheus computes from the series must be what was sent. rate() of each tenant and each
// flow against the senders' rates (within 5 %), the drops by reason against the frames forged,
// and under a flood of 100 000 new flows the series stay bounded, the top flows are the heavy
// ones and the worker allocates nothing.
using System.Globalization;
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;
using static VSwitch.Tests.Integration.Dataplane.RunningOverlayTests;

namespace VSwitch.Tests.Integration.Metrics;

public sealed class PrometheusScrapeTests : IAsyncLifetime
{
    private const string MacB = "02:00:00:00:00:02", MacC = "02:00:00:00:00:03", MacD = "02:00:00:00:00:04";
    private const int Top = 3;
    private const int Tenants = 2;
    // What one af_packet port takes from a veth without loss on these machines, with room to spare.
    private const int MaxPps = 40_000;

    // Sends the plan's streams, each frame at its own steady rate from one start time (the
    // k-th frame of a stream at start + k/pps), merged in time order; prints "sent" and each
    // stream's count. Streams of pps 0 go out at once, in plan order, but never faster than
    // the plan's cap: a chunk of frames, then a pause, so that the kernel's backlog of the
    // veth (net.core.netdev_max_backlog, 1000 frames) and the port's ring never overflow.
    private const string Pacer = """
        import heapq, json, socket, sys, time
        plan = json.load(open(sys.argv[1]))
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((plan["iface"], 0))
        streams = [(bytes.fromhex(x["frame"]), x["pps"], x["count"]) for x in plan["streams"]]
        start = time.monotonic() + 0.05
        heap = [(start, i, 0) for i, st in enumerate(streams) if st[2] > 0]
        heapq.heapify(heap)
        sent = [0] * len(streams)
        chunk, total = 100, 0
        while heap:
            t, i, k = heapq.heappop(heap)
            frame, pps, count = streams[i]
            delay = t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            while True:
                try:
                    s.send(frame)
                    break
                except BlockingIOError:
                    time.sleep(0.0005)
            sent[i] += 1
            total += 1
            if total % chunk == 0:
                delay = start + total / plan["max_pps"] - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if k + 1 < count:
                heapq.heappush(heap, (start + (k + 1) / pps if pps > 0 else t, i, k + 1))
        print("sent " + " ".join(str(n) for n in sent), flush=True)
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("vsw-prom-").FullName;
    private readonly string _prefix = $"vswprom{Environment.ProcessId}";
    // veth pairs in this namespace: vswitchd's af_packet port on one end, a sender on the other.
    private readonly string _red = $"vp{Environment.ProcessId % 100000}r", _blue = $"vp{Environment.ProcessId % 100000}b";
    private VswitchdProcess? _vswitchd;
    private PrometheusServer? _prometheus;

    private static string Peer(string port) => port + "p";

    public async ValueTask InitializeAsync()
    {
        foreach (string port in (string[])[_red, _blue])
        {
            await Ip.DeleteLinkAsync(port);
            await Ip.RunAsync("link", "add", port, "type", "veth", "peer", "name", Peer(port));
            // No IPv6: the kernel must send nothing of its own into the ports (DAD, router solicitations).
            foreach (string end in (string[])[port, Peer(port)])
            {
                await Ip.SysctlAsync($"net.ipv6.conf.{end}.disable_ipv6", "1");
                await Ip.RunAsync("link", "set", end, "up");
            }
        }
        int metricsPort = PrometheusServer.FreePort();
        var config = new VswitchdConfig(
            FilePrefix: _prefix,
            Ports:
            [
                new("vm-a", $"net_af_packet0,iface={_red}"),
                new("vm-b", "net_null0,no-rx=1"),
                new("vm-c", $"net_af_packet1,iface={_blue}"),
                new("vm-d", "net_null1,no-rx=1"),
                new("up0", "net_null2,no-rx=1", Role: "uplink"),
            ],
            Tenants:
            [
                new("red", [new("a", "vm-a", MacA, ["10.0.0.1"], FloodRatePps: VswitchdVm.LineRate), new("b", "vm-b", MacB, ["10.0.0.2"])], Vni: 5001),
                new("blue", [new("c", "vm-c", MacC, ["10.0.0.1"]), new("d", "vm-d", MacD, ["10.0.0.2"])], Vni: 5002),
            ],
            ControlSocket: Path.Combine(_dir, "vswitchd.sock"))
        {
            // A remote host behind a silent uplink: its tunnel and next-hop series exist for the dashboard's panels.
            Overlay = new VswitchdOverlay("up0", "192.168.50.1/24", "02:aa:00:00:00:01", [new("host-b", "192.168.50.2", "geneve")])
            {
                StaticNeighbours = [("192.168.50.2", "02:bb:00:00:00:02")],
            },
            Flows = new JsonObject { ["enabled"] = true, ["table_size"] = 4096, ["top"] = Top },
            Metrics = new JsonObject { ["listen"] = $"127.0.0.1:{metricsPort}" },
        };
        _vswitchd = await VswitchdProcess.StartAsync(config, Path.Combine(_dir, "vswitchd.json"), VswitchdReady.ControlSocket);
        _prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{metricsPort}", TestContext.Current.CancellationToken);
        await _prometheus.WaitForAsync($"up{{job=\"{PrometheusServer.Job}\"}}", up => up == 1, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_prometheus is not null)
            await _prometheus.DisposeAsync();
        if (_vswitchd is not null)
            await _vswitchd.DisposeAsync();
        foreach (string port in (string[])[_red, _blue])
            await Ip.DeleteLinkAsync(port);
        Directory.Delete(_dir, recursive: true);
    }

    private sealed record Stream(byte[] Frame, int Pps, int Count);

    /// <summary>Starts a sender on <paramref name="port"/>'s peer; its output ends with "sent" and each stream's count.</summary>
    private BackgroundProcess Send(string port, string name, IEnumerable<Stream> streams)
    {
        string plan = Path.Combine(_dir, $"{name}.json");
        File.WriteAllText(plan, new JsonObject
        {
            ["iface"] = Peer(port),
            ["max_pps"] = MaxPps,
            ["streams"] = new JsonArray([.. streams.Select(s => (JsonNode)new JsonObject { ["frame"] = Convert.ToHexString(s.Frame), ["pps"] = s.Pps, ["count"] = s.Count })]),
        }.ToJsonString());
        return BackgroundProcess.Start($"sender-{name}", "/usr/bin/python3", ["-c", Pacer, plan]);
    }

    private static async Task<long[]> SentAsync(BackgroundProcess sender, TimeSpan timeout)
    {
        string line = await sender.WaitForLineAsync(l => l.StartsWith("sent ", StringComparison.Ordinal), timeout, "the sender's count");
        return [.. line.Split(' ').Skip(1).Select(n => long.Parse(n, CultureInfo.InvariantCulture))];
    }

    private static void Within(double expected, double actual, double tolerance, string what) =>
        Assert.True(Math.Abs(actual - expected) <= expected * tolerance,
            $"{what}: Prometheus says {actual:F1}, the senders sent {expected:F1} (tolerance {tolerance:P0})");

    [Fact]
    public async Task Rates_and_drops_that_Prometheus_computes_match_what_was_sent()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        const int Seconds = 24;
        // Red: two flows at 500 and 250 frames a second; blue, with red's addresses, one at 400.
        (ushort Port, int Pps)[] red = [(1000, 500), (1001, 250)];
        const int BluePps = 400;
        byte[] blueFrame = Udp(MacC, MacD, "10.0.0.1", "10.0.0.2", 2000);
        await using BackgroundProcess redSender = Send(_red, "red", red.Select(f => new Stream(Udp(MacA, MacB, "10.0.0.1", "10.0.0.2", f.Port), f.Pps, f.Pps * Seconds)));
        await using BackgroundProcess blueSender = Send(_blue, "blue", [new Stream(blueFrame, BluePps, BluePps * Seconds)]);

        // Past the first 12 s, a 10 s window lies wholly inside the steady sending.
        await Task.Delay(TimeSpan.FromSeconds(14), ct);
        const string Window = "[10s]";
        Within(red.Sum(f => f.Pps), await _prometheus!.ScalarAsync($"rate(vswitchd_tenant_packets_total{{tenant=\"red\"}}{Window})", ct), 0.05, "red's packets per second");
        Within(BluePps, await _prometheus.ScalarAsync($"rate(vswitchd_tenant_packets_total{{tenant=\"blue\"}}{Window})", ct), 0.05, "blue's packets per second");
        Within(BluePps * blueFrame.Length, await _prometheus.ScalarAsync($"rate(vswitchd_tenant_bytes_total{{tenant=\"blue\"}}{Window})", ct), 0.05, "blue's bytes per second");
        foreach ((ushort port, int pps) in red)
        {
            Within(pps, await _prometheus.ScalarAsync($"rate(vswitchd_flow_packets_total{{tenant=\"red\",protocol=\"udp\",source_port=\"{port}\"}}{Window})", ct), 0.05,
                $"red's flow from port {port}, packets per second");
        }
        Within(red.Sum(f => f.Pps), await _prometheus.ScalarAsync($"rate(vswitchd_port_rx_packets_total{{port=\"vm-a\"}}{Window})", ct), 0.05, "vm-a's rx per second");
        Within(red.Sum(f => f.Pps), await _prometheus.ScalarAsync($"rate(vswitchd_port_tx_packets_total{{port=\"vm-b\"}}{Window})", ct), 0.05, "vm-b's tx per second");
        long[] redSent = await SentAsync(redSender, TimeSpan.FromSeconds(30)), blueSent = await SentAsync(blueSender, TimeSpan.FromSeconds(30));
        Assert.Equal(red.Select(f => (long)f.Pps * Seconds), redSent);
        Assert.Equal((long)BluePps * Seconds, Assert.Single(blueSent));

        // Forged: frames from a with a source address that is not a's, and from a MAC that is not.
        const int SpoofedIp = 300, SpoofedMac = 200;
        await using (BackgroundProcess forger = Send(_red, "forged",
        [
            new Stream(Udp(MacA, MacB, "10.0.0.9", "10.0.0.2", 1002), 100, SpoofedIp),
            new Stream(Udp("02:00:00:00:00:99", MacB, "10.0.0.1", "10.0.0.2", 1003), 100, SpoofedMac),
        ]))
        {
            long[] forged = await SentAsync(forger, TimeSpan.FromSeconds(30));
            Assert.Equal(new long[] { SpoofedIp, SpoofedMac }, forged);
        }
        Assert.Equal(SpoofedIp, await _prometheus.WaitForAsync("vswitchd_dropped_packets_total{reason=\"spoofed_ipv4_source\"}", v => v >= SpoofedIp, TimeSpan.FromSeconds(10), ct));
        Assert.Equal(SpoofedMac, await _prometheus.WaitForAsync("vswitchd_dropped_packets_total{reason=\"spoofed_source_mac\"}", v => v >= SpoofedMac, TimeSpan.FromSeconds(10), ct));
        Assert.Equal(SpoofedIp + SpoofedMac, await _prometheus.ScalarAsync("sum(vswitchd_dropped_packets_total)", ct));
        Assert.Equal(SpoofedIp + SpoofedMac, await _prometheus.ScalarAsync("vswitchd_port_dropped_packets_total{port=\"vm-a\"}", ct));
        // By reason at the port, and at its tenant; blue forged nothing and has no drop series.
        Assert.Equal(SpoofedIp, await _prometheus.ScalarAsync("vswitchd_port_dropped_by_reason_packets_total{port=\"vm-a\",reason=\"spoofed_ipv4_source\"}", ct));
        Assert.Equal(SpoofedMac, await _prometheus.ScalarAsync("vswitchd_port_dropped_by_reason_packets_total{port=\"vm-a\",reason=\"spoofed_source_mac\"}", ct));
        Assert.Equal(SpoofedIp, await _prometheus.ScalarAsync("vswitchd_tenant_dropped_packets_total{tenant=\"red\",reason=\"spoofed_ipv4_source\"}", ct));
        Assert.Equal(SpoofedMac, await _prometheus.ScalarAsync("vswitchd_tenant_dropped_packets_total{tenant=\"red\",reason=\"spoofed_source_mac\"}", ct));
        Assert.Empty(await _prometheus.QueryAsync("vswitchd_tenant_dropped_packets_total{tenant=\"blue\"}", ct));
        Assert.Equal(0, await _prometheus.ScalarAsync("sum(vswitchd_ethdev_rx_missed_total)", ct));
        Assert.Equal(0, await _prometheus.ScalarAsync("max(vswitchd_worker_allocated_bytes)", ct));

        // Every query of the Grafana dashboard (docs/grafana/vswitchd.json) answers with data.
        var empty = new List<string>();
        foreach (string expr in DashboardQueries())
        {
            if ((await _prometheus.QueryAsync(expr, ct)).Count == 0)
                empty.Add(expr);
        }
        Assert.True(empty.Count == 0, $"dashboard queries with no data:\n{string.Join("\n", empty)}");
    }

    /// <summary>
    /// Each target's expression in the dashboard, with Grafana's variables as the dashboard would
    /// set them: every tenant, and a rate window of ten scrapes.
    /// </summary>
    private static List<string> DashboardQueries()
    {
        JsonNode dashboard = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "grafana", "vswitchd.json")))!;
        List<string> queries = [.. dashboard["panels"]!.AsArray()
            .SelectMany(p => p!["targets"]?.AsArray() ?? [])
            .Select(t => ((string)t!["expr"]!).Replace("$tenant", ".*", StringComparison.Ordinal).Replace("$__rate_interval", "10s", StringComparison.Ordinal))];
        Assert.True(queries.Count >= 10, $"the dashboard has {queries.Count} queries: its panels were not read");
        Assert.DoesNotContain(queries, q => q.Contains('$', StringComparison.Ordinal));
        return queries;
    }

    [Fact]
    public async Task A_flood_of_new_flows_keeps_the_series_bounded_and_the_heavy_flows_on_top()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        // Before any traffic: every series but the tenants' and the flows'.
        await _prometheus!.WaitForAsync($"count(up{{job=\"{PrometheusServer.Job}\"}})", n => n == 1, TimeSpan.FromSeconds(10), ct);
        double idle = await _prometheus.WaitForAsync($"scrape_samples_scraped{{job=\"{PrometheusServer.Job}\"}}", n => n > 0, TimeSpan.FromSeconds(10), ct);
        Assert.Equal(0, (await _prometheus.QueryAsync("vswitchd_flow_packets_total", ct)).Count);
        // Each tenant adds its packets, bytes, other packets and other bytes, and two series per top
        // flow; the flood's one drop reason adds a series at vm-a and one at its tenant.
        double bound = idle + Tenants * (4 + 2 * Top) + 2;

        // 100 000 flows of one frame each in red, from distinct source ports and addresses a may
        // not use (so also dropped, by reason), and three heavy flows of 2 000 frames among them.
        const int Singles = 100_000, Heavy = 2_000;
        ushort[] heavyPorts = [7001, 7002, 7003];
        var streams = new List<Stream>();
        foreach (ushort port in heavyPorts)
            streams.Add(new Stream(Udp(MacA, MacB, "10.0.0.1", "10.0.0.2", port), 0, Heavy));
        for (int i = 0; i < Singles; i++)
            streams.Add(new Stream(Udp(MacA, MacB, $"10.{1 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}", "10.0.0.2", (ushort)(10000 + i % 50000)), 0, 1));
        await using (BackgroundProcess sender = Send(_red, "flood", Interleave(streams, heavyPorts.Length)))
        {
            long[] sent = await SentAsync(sender, TimeSpan.FromSeconds(120));
            Assert.Equal(Singles + heavyPorts.Length * Heavy, sent.Sum());
        }
        // Two scrapes after the flood, and the whole run is in view.
        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        double most = await _prometheus.ScalarAsync($"max_over_time(scrape_samples_scraped{{job=\"{PrometheusServer.Job}\"}}[5m])", ct);
        Assert.True(most <= bound, $"a scrape held {most} samples; the bound is {bound} ({idle} before any flow)");
        Assert.True(most > idle, $"no scrape held a flow: {most} samples, {idle} before the flood");
        Assert.True(await _prometheus.ScalarAsync($"sum_over_time(scrape_series_added{{job=\"{PrometheusServer.Job}\"}}[5m])", ct) > idle,
            "scrape_series_added shows no churn: the flows' series never changed");

        IReadOnlyList<(JsonObject Labels, double Value)> top = await _prometheus.QueryAsync("vswitchd_flow_packets_total{tenant=\"red\"}", ct);
        Assert.Equal(heavyPorts.Select(p => p.ToString(CultureInfo.InvariantCulture)).Order(), top.Select(f => (string)f.Labels["source_port"]!).Order());
        JsonObject counters = await _vswitchd!.OpAsync("counters", ct: ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"top: {string.Join(", ", top.Select(f => $"{f.Labels["source_port"]}={f.Value}"))}; vm-a: {counters["ports"]!["vm-a"]!.ToJsonString()}");
        // Frames the kernel dropped between the sender and the port would make every figure below wrong for a reason outside vswitchd.
        Assert.True((long)counters["ports"]!["vm-a"]!["ipackets"]! == Singles + heavyPorts.Length * Heavy,
            $"the port received {counters["ports"]!["vm-a"]!["ipackets"]} of the {Singles + heavyPorts.Length * Heavy} frames sent: the veth lost some (lower MaxPps)");
        Assert.Equal(Singles + heavyPorts.Length * Heavy, await _prometheus.ScalarAsync("vswitchd_tenant_packets_total{tenant=\"red\"}", ct));
        Assert.All(top, f => Assert.Equal(Heavy, f.Value));
        Assert.All(counters["workers"]!.AsArray(), w => Assert.Equal((0L, 0L), ((long)w!["allocated_bytes"]!, (long)w["jit_methods"]!)));
        Assert.Equal(0, (long)counters["ports"]!["vm-a"]!["imissed"]!);
    }

    /// <summary>The single-frame streams in order with one frame of each heavy stream (the first <paramref name="heavy"/>) spread evenly among them.</summary>
    private static IEnumerable<Stream> Interleave(List<Stream> streams, int heavy)
    {
        List<Stream> singles = streams.Skip(heavy).ToList();
        int every = Math.Max(1, singles.Count / streams[0].Count);
        for (int i = 0; i < singles.Count; i++)
        {
            if (i % every == 0 && i / every < streams[0].Count)
            {
                for (int h = 0; h < heavy; h++)
                    yield return streams[h] with { Count = 1 };
            }
            yield return singles[i];
        }
    }
}
