// vswitchd's /metrics (src/Dataplane/Metrics/VswitchdMetrics.cs) from hand-made snapshots, read
// back in Prometheus's text format as a scrape would: each family carries the snapshot's figure,
// series that the host no longer has go away, a counter whose source restarted restarts, and the
// number of series stays bounded however many flows come and go.
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Flows;
using VSwitch.Dataplane.Interop;
using VSwitch.Dataplane.Metrics;
using VSwitch.Dataplane.Overlay.Neighbours;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;
using Xunit;

namespace VSwitch.Tests.Unit.Metrics;

public sealed partial class VswitchdMetricsTests
{
    private const ulong TscHz = 2_000_000_000;
    private static readonly UInt128 Mapped = new(0, 0xFFFF_0000_0000);
    private static readonly string[] Tenants = ["red", "blue"];

    private static readonly RemoteHost HostB = new()
    {
        Index = 0, Name = "host-b", Vtep = 0xC0A83202, Tunnel = TunnelType.Geneve, UdpPort = 6081, KnownOptions = [], NeighbourIndex = 0,
    };

    private static PortSample Port(string name, ulong rx, ulong tx, ulong drops, EthStats? eth = null, string? vm = null, string tenant = "red", ulong[]? reasons = null) =>
        new(new PortSpec(name, "net_null0", PortRole.Vm, 1500, 1), 0, vm, vm is null ? null : tenant, [new QueueCounts(rx, tx, drops)],
            reasons ?? new ulong[DropReasons.Count], eth, 0, null);

    /// <summary>Drops by reason as PortSample holds them (indexed by DropReason).</summary>
    private static ulong[] Reasons(params (DropReason Reason, ulong Frames)[] drops)
    {
        var byReason = new ulong[DropReasons.Count];
        foreach ((DropReason reason, ulong frames) in drops)
            byReason[(int)reason] = frames;
        return byReason;
    }

    private static CountersSnapshot Snapshot(IReadOnlyList<PortSample> ports, Action<WorkerCounters>? count = null, IReadOnlyDictionary<string, ulong[]>? uplinkDrops = null)
    {
        var sum = new WorkerCounters(0, 1, 1);
        count?.Invoke(sum);
        return new CountersSnapshot([new WorkerSample(0, 1, 5000, 700, 0, BusyCycles: 3 * TscHz, IdleCycles: TscHz / 2)], sum, ports, [HostB], TscHz,
            4, 2, 1, TimeSpan.FromMilliseconds(250), uplinkDrops ?? new Dictionary<string, ulong[]>(), 0);
    }

    private static FlowRecord Flow(int tenant, ushort sourcePort, ulong packets) =>
        new(new FlowKey(tenant, 5001, 0x0800, 17, Mapped | 0x0A000001u, Mapped | 0x0A000002u, sourcePort, 4000), packets, packets * 100, 0, 0, 0);

    private static TenantFlows TenantOf(int tenant, ulong packets, params FlowRecord[] top) =>
        new(tenant, top, new FlowAggregate(packets - top.Aggregate(0UL, (sum, f) => sum + f.Packets), 0, 3), packets, packets * 100);

    private static MetricsInputs Inputs(CountersSnapshot counters, IReadOnlyList<TenantFlows>? flows = null, IReadOnlyList<NeighbourEntry>? neighbours = null) =>
        new(counters, flows, Tenants, neighbours ?? []);

    /// <summary>Every sample of a scrape, keyed as exported: name{labels}.</summary>
    private static async Task<Dictionary<string, double>> Scrape(VswitchdMetrics metrics)
    {
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream, TestContext.Current.CancellationToken);
        var samples = new Dictionary<string, double>();
        foreach (string line in Encoding.UTF8.GetString(stream.ToArray()).Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            int space = line.LastIndexOf(' ');
            samples.Add(line[..space], double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture));
        }
        return samples;
    }

    private static async Task<string> Exposition(VswitchdMetrics metrics)
    {
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream, TestContext.Current.CancellationToken);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    [Fact]
    public async Task Every_family_carries_the_snapshots_figures()
    {
        var metrics = new VswitchdMetrics();
        CountersSnapshot counters = Snapshot(
            [Port("vm-a", 100, 90, 3, vm: "red-a"), Port("up0", 7, 8, 0, new EthStats(7, 8, Imissed: 2, 0, 0, RxNoMbuf: 1, Ibytes: 700, Obytes: 800))],
            sum =>
            {
                sum.Drops[(int)DropReason.SpoofedSourceMac] = 3;
                sum.Unicast = 95;
                sum.TunnelEncap[0] = 40;
                sum.TunnelDecap[0] = 7;
            });
        metrics.Update(Inputs(counters, [TenantOf(0, 60, Flow(0, 1000, 50))],
            [new NeighbourEntry(0xC0A83202, 0x02BB00000002, NeighbourState.Resolved, TimeSpan.FromSeconds(1.5))]));
        Dictionary<string, double> s = await Scrape(metrics);

        Assert.Equal(1, s["vswitchd_port_info{port=\"vm-a\",role=\"vm\",vm=\"red-a\",tenant=\"red\",kind=\"ethdev\"}"]);
        Assert.Equal(100, s["vswitchd_port_rx_packets_total{port=\"vm-a\"}"]);
        Assert.Equal(90, s["vswitchd_port_tx_packets_total{port=\"vm-a\"}"]);
        Assert.Equal(3, s["vswitchd_port_dropped_packets_total{port=\"vm-a\"}"]);
        Assert.Equal(3, s["vswitchd_queue_dropped_packets_total{port=\"vm-a\",queue=\"0\"}"]);
        Assert.Equal(2, s["vswitchd_ethdev_rx_missed_total{port=\"up0\"}"]);
        Assert.Equal(1, s["vswitchd_ethdev_rx_nombuf_total{port=\"up0\"}"]);
        Assert.Equal(800, s["vswitchd_ethdev_tx_bytes_total{port=\"up0\"}"]);
        Assert.DoesNotContain("vswitchd_ethdev_rx_missed_total{port=\"vm-a\"}", s.Keys); // no ethdev stats: no series
        Assert.Equal(3, s["vswitchd_dropped_packets_total{reason=\"spoofed_source_mac\"}"]);
        Assert.Equal(0, s["vswitchd_dropped_packets_total{reason=\"tx_queue_full\"}"]);
        Assert.Equal(95, s["vswitchd_unicast_total"]);
        Assert.Equal(1, s["vswitchd_remote_host_info{remote_host=\"host-b\",vtep=\"192.168.50.2\",tunnel=\"geneve\"}"]);
        Assert.Equal(40, s["vswitchd_tunnel_encapsulated_packets_total{remote_host=\"host-b\"}"]);
        Assert.Equal(7, s["vswitchd_tunnel_decapsulated_packets_total{remote_host=\"host-b\"}"]);
        Assert.Equal(1, s["vswitchd_neighbour_state{next_hop=\"192.168.50.2\",state=\"resolved\"}"]);
        Assert.Equal(1.5, s["vswitchd_neighbour_age_seconds{next_hop=\"192.168.50.2\"}"]);
        Assert.Equal(3, s["vswitchd_worker_busy_seconds_total{worker=\"0\",core=\"1\"}"]);
        Assert.Equal(0.5, s["vswitchd_worker_idle_seconds_total{worker=\"0\",core=\"1\"}"]);
        Assert.Equal(0, s["vswitchd_worker_allocated_bytes{worker=\"0\",core=\"1\"}"]);
        Assert.Equal(60, s["vswitchd_tenant_packets_total{tenant=\"red\"}"]);
        Assert.Equal(6000, s["vswitchd_tenant_bytes_total{tenant=\"red\"}"]);
        Assert.Equal(10, s["vswitchd_tenant_other_packets_total{tenant=\"red\"}"]);
        const string flow = "{tenant=\"red\",vni=\"5001\",protocol=\"udp\",source=\"10.0.0.1\",destination=\"10.0.0.2\",source_port=\"1000\",destination_port=\"4000\"}";
        Assert.Equal(50, s["vswitchd_flow_packets_total" + flow]);
        Assert.Equal(5000, s["vswitchd_flow_bytes_total" + flow]);
        Assert.Equal(1, s["vswitchd_gc_collections_total{generation=\"2\"}"]);
        Assert.Equal(0.25, s["vswitchd_gc_pause_seconds_total"]);
    }

    [Fact]
    public async Task Drops_by_reason_are_per_port_and_per_tenant_for_the_reasons_that_hit()
    {
        var metrics = new VswitchdMetrics();
        CountersSnapshot counters = Snapshot(
        [
            Port("red-a", 10, 0, 4, vm: "red-a", reasons: Reasons((DropReason.SpoofedSourceMac, 3), (DropReason.GuestRxRingFull, 1))),
            Port("red-b", 10, 0, 2, vm: "red-b", reasons: Reasons((DropReason.SpoofedSourceMac, 2))),
            Port("blue-a", 10, 0, 5, vm: "blue-a", tenant: "blue", reasons: Reasons((DropReason.UnknownInnerDestination, 5))),
            Port("up0", 10, 0, 1, reasons: Reasons((DropReason.UnknownVni, 1))),
        ]);
        metrics.Update(Inputs(counters));
        Dictionary<string, double> s = await Scrape(metrics);

        Assert.Equal(3, s["vswitchd_port_dropped_by_reason_packets_total{port=\"red-a\",reason=\"spoofed_source_mac\"}"]);
        Assert.Equal(1, s["vswitchd_port_dropped_by_reason_packets_total{port=\"red-a\",reason=\"guest_rx_ring_full\"}"]);
        Assert.Equal(1, s["vswitchd_port_dropped_by_reason_packets_total{port=\"up0\",reason=\"unknown_vni\"}"]);
        Assert.Equal(5, s["vswitchd_tenant_dropped_packets_total{tenant=\"red\",reason=\"spoofed_source_mac\"}"]);
        Assert.Equal(1, s["vswitchd_tenant_dropped_packets_total{tenant=\"red\",reason=\"guest_rx_ring_full\"}"]);
        Assert.Equal(5, s["vswitchd_tenant_dropped_packets_total{tenant=\"blue\",reason=\"unknown_inner_destination\"}"]);
        // Only reasons that hit get a series, and the uplink belongs to no tenant.
        Assert.Equal(5, s.Keys.Count(k => k.StartsWith("vswitchd_port_dropped_by_reason_packets_total{", StringComparison.Ordinal)));
        Assert.Equal(3, s.Keys.Count(k => k.StartsWith("vswitchd_tenant_dropped_packets_total{", StringComparison.Ordinal)));

        // A port removed takes its series with it, and its tenant's sums go back.
        metrics.Update(Inputs(Snapshot([Port("red-b", 10, 0, 2, vm: "red-b", reasons: Reasons((DropReason.SpoofedSourceMac, 2)))])));
        s = await Scrape(metrics);
        Assert.DoesNotContain(s.Keys, k => k.Contains("port=\"red-a\"", StringComparison.Ordinal) || k.Contains("tenant=\"blue\"", StringComparison.Ordinal));
        Assert.Equal(2, s["vswitchd_tenant_dropped_packets_total{tenant=\"red\",reason=\"spoofed_source_mac\"}"]);
    }

    [Fact]
    public async Task A_tenants_drops_include_its_tunnelled_frames_dropped_on_the_uplink()
    {
        var metrics = new VswitchdMetrics();
        CountersSnapshot counters = Snapshot(
            [
                Port("red-a", 10, 0, 3, vm: "red-a", reasons: Reasons((DropReason.SpoofedSourceMac, 3))),
                Port("up0", 10, 0, 6, reasons: Reasons((DropReason.SpoofedIpv4Source, 4), (DropReason.UnknownVni, 2))),
            ],
            uplinkDrops: new Dictionary<string, ulong[]> { ["red"] = Reasons((DropReason.SpoofedIpv4Source, 4)) });
        metrics.Update(Inputs(counters));
        Dictionary<string, double> s = await Scrape(metrics);

        Assert.Equal(3, s["vswitchd_tenant_dropped_packets_total{tenant=\"red\",reason=\"spoofed_source_mac\"}"]);
        Assert.Equal(4, s["vswitchd_tenant_dropped_packets_total{tenant=\"red\",reason=\"spoofed_ipv4_source\"}"]);
        // An unknown VNI names no tenant: it stays the uplink's alone.
        Assert.Equal(2, s.Keys.Count(k => k.StartsWith("vswitchd_tenant_dropped_packets_total{", StringComparison.Ordinal)));
        Assert.Equal(0, s["vswitchd_unattributed_tenant_drops_total"]);
    }

    [GeneratedRegex(@"^# TYPE (?<name>\S+) (?<type>\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    [Fact]
    public async Task Names_follow_Prometheus_conventions()
    {
        var metrics = new VswitchdMetrics();
        metrics.Update(Inputs(Snapshot([Port("vm-a", 1, 1, 0)]), [TenantOf(0, 5, Flow(0, 1, 5))]));
        MatchCollection types = TypeLine().Matches(await Exposition(metrics));
        Assert.True(types.Count > 30, $"only {types.Count} families");
        foreach (Match type in types)
        {
            string name = type.Groups["name"].Value;
            Assert.Matches("^vswitchd_[a-z0-9_]+$", name);
            // Counters end in _total, and nothing else does; cycles are exported as seconds.
            Assert.True(type.Groups["type"].Value == "counter" == name.EndsWith("_total", StringComparison.Ordinal), $"{name} is a {type.Groups["type"].Value}");
            Assert.DoesNotContain("cycles", name);
        }
    }

    [Fact]
    public async Task Series_the_host_no_longer_has_go_away()
    {
        var metrics = new VswitchdMetrics();
        metrics.Update(Inputs(Snapshot([Port("vm-a", 10, 0, 0), Port("vm-b", 20, 0, 0)]), [TenantOf(0, 30, Flow(0, 1, 20), Flow(0, 2, 10))],
            [new NeighbourEntry(1, 0, NeighbourState.Incomplete, TimeSpan.Zero)]));
        // vm-b removed, flow 2 left the top, the next hop resolved.
        metrics.Update(Inputs(Snapshot([Port("vm-a", 11, 0, 0)]), [TenantOf(0, 40, Flow(0, 1, 21), Flow(0, 3, 12))],
            [new NeighbourEntry(1, 2, NeighbourState.Resolved, TimeSpan.Zero)]));
        Dictionary<string, double> s = await Scrape(metrics);

        Assert.Equal(11, s["vswitchd_port_rx_packets_total{port=\"vm-a\"}"]);
        Assert.DoesNotContain(s.Keys, k => k.Contains("port=\"vm-b\"", StringComparison.Ordinal));
        Assert.Equal(["1", "3"], s.Keys.Where(k => k.StartsWith("vswitchd_flow_packets_total", StringComparison.Ordinal))
            .Select(k => Regex.Match(k, "source_port=\"(\\d+)\"").Groups[1].Value).Order());
        Assert.Equal(1, s["vswitchd_neighbour_state{next_hop=\"0.0.0.1\",state=\"resolved\"}"]);
        Assert.DoesNotContain("vswitchd_neighbour_state{next_hop=\"0.0.0.1\",state=\"incomplete\"}", s.Keys);
    }

    [Fact]
    public async Task A_counter_whose_source_restarted_restarts()
    {
        // remove-port then add-port under the same name: the new port counts from zero.
        var metrics = new VswitchdMetrics();
        metrics.Update(Inputs(Snapshot([Port("vm-a", 500, 0, 0)])));
        metrics.Update(Inputs(Snapshot([Port("vm-a", 3, 0, 0)])));
        Assert.Equal(3, (await Scrape(metrics))["vswitchd_port_rx_packets_total{port=\"vm-a\"}"]);
    }

    [Fact]
    public async Task Flow_churn_never_grows_the_series_past_top_N_per_tenant()
    {
        const int Top = 3;
        var metrics = new VswitchdMetrics();
        int most = 0;
        for (int round = 0; round < 50; round++)
        {
            // Every round a new set of top flows in both tenants, as under a flood of new flows.
            FlowRecord[] Top3(int tenant) => [.. Enumerable.Range(0, Top).Select(i => Flow(tenant, (ushort)(round * Top + i), 10))];
            metrics.Update(Inputs(Snapshot([Port("vm-a", (ulong)round, 0, 0)]), [TenantOf(0, 100, Top3(0)), TenantOf(1, 100, Top3(1))]));
            Dictionary<string, double> s = await Scrape(metrics);
            Assert.Equal(2 * Top, s.Keys.Count(k => k.StartsWith("vswitchd_flow_packets_total", StringComparison.Ordinal)));
            most = Math.Max(most, s.Count);
        }
        var fresh = new VswitchdMetrics();
        fresh.Update(Inputs(Snapshot([Port("vm-a", 0, 0, 0)]), [TenantOf(0, 100, Flow(0, 1, 10), Flow(0, 2, 10), Flow(0, 3, 10)), TenantOf(1, 100, Flow(1, 1, 10), Flow(1, 2, 10), Flow(1, 3, 10))]));
        Assert.Equal((await Scrape(fresh)).Count, most);
    }

    [Fact]
    public async Task Frames_of_no_tenant_get_no_tenant_or_flow_series()
    {
        var metrics = new VswitchdMetrics();
        metrics.Update(Inputs(Snapshot([]), [TenantOf(-1, 9, Flow(-1, 1, 9))]));
        Dictionary<string, double> s = await Scrape(metrics);
        Assert.DoesNotContain(s.Keys, k => k.StartsWith("vswitchd_tenant_", StringComparison.Ordinal) || k.StartsWith("vswitchd_flow_", StringComparison.Ordinal));
    }
}
