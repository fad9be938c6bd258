// What the control side makes of the workers' flow tables (src/Dataplane/Flows/FlowReport.cs):
// one flow seen by two workers is one flow, the top N per tenant are the largest by bytes, the
// rest of a tenant is summed with what left the tables, and a table reset for a new tenant
// layout forgets everything it held.
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VSwitch.Dataplane.Cli;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Flows;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;
using Xunit;

namespace VSwitch.Tests.Unit.Flows;

public sealed class FlowReportTests
{
    private static readonly UInt128 Mapped = new(0, 0xFFFF_0000_0000);

    private static FlowKey Udp(int tenant, ushort sourcePort) =>
        new(tenant, 0, 0x0800, 17, Mapped | 0x0A000001u, Mapped | 0x0A000002u, sourcePort, 53);

    private static void Record(FlowTable table, FlowKey key, int frames, int bytes = 100, DropReason reason = DropReason.None)
    {
        for (int i = 0; i < frames; i++)
            table.Record(key, bytes, now: 1000 + i, reason);
    }

    [Fact]
    public void Flows_of_two_workers_merge_and_each_tenant_keeps_its_top_N_by_bytes_and_the_rest_summed()
    {
        FlowTable one = new(64, 4), two = new(64, 4);
        Record(one, Udp(0, 1), 10);
        Record(two, Udp(0, 1), 5, reason: DropReason.TxQueueFull); // the same flow on another worker
        Record(one, Udp(0, 2), 12);
        Record(one, Udp(0, 3), 2, bytes: 1000); // fewest frames, most bytes
        Record(two, Udp(1, 1), 4);

        List<TenantFlows> report = FlowReport.Collect([one, two], layout: 0, tenantCount: 2, top: 2);

        TenantFlows red = report[0];
        Assert.Equal(0, red.Tenant);
        Assert.Equal([(3, 2ul, 2000ul), (1, 15ul, 1500ul)], red.Top.Select(f => ((int)f.Key.SourcePort, f.Packets, f.Bytes)));
        Assert.Equal(1UL << (int)DropReason.TxQueueFull, red.Top[1].DropReasons);
        Assert.Equal((1000L, 1009L), (red.Top[1].FirstSeen, red.Top[1].LastSeen));
        Assert.Equal(new FlowAggregate(12, 1200, 1), red.Other);
        Assert.Equal((29ul, 4700ul), (red.Packets, red.Bytes));
        Assert.Equal((1, 4ul), (report[1].Tenant, report[1].Packets));

        // One tenant alone, even one with no traffic.
        Assert.Equal([1], FlowReport.Collect([one, two], 0, 2, 2, onlyTenant: 1).Select(t => t.Tenant));
        TenantFlows quiet = Assert.Single(FlowReport.Collect([one, two], 0, 3, 2, onlyTenant: 2));
        Assert.Equal((0, 0ul), (quiet.Top.Count, quiet.Packets));
    }

    [Fact]
    public void A_collector_kept_between_calls_answers_as_a_fresh_one_and_keeps_nothing_stale()
    {
        FlowTable one = new(64, 4), two = new(64, 4);
        Record(one, Udp(0, 1), 10);
        Record(two, Udp(1, 1), 4);
        var kept = new FlowCollector();
        string Describe(List<TenantFlows> report) => string.Join("; ", report.Select(t =>
            $"{t.Tenant}: {string.Join(",", t.Top.Select(f => $"{f.Key.SourcePort}={f.Packets}"))} other {t.Other} total {t.Packets}"));
        Assert.Equal(Describe(FlowReport.Collect([one, two], 0, 2, 2)), Describe(kept.Collect([one, two], 0, 2, 2)));

        // Tenant 1's table is reset and new flows arrive in tenant 0: the kept collector shows only what is there now.
        two.Reset(1);
        Record(one, Udp(0, 2), 30);
        Record(one, Udp(0, 3), 20);
        List<TenantFlows> again = kept.Collect([one, two], 0, 2, 2);
        Assert.Equal(Describe(FlowReport.Collect([one, two], 0, 2, 2)), Describe(again));
        TenantFlows red = Assert.Single(again);
        Assert.Equal([2, 3], red.Top.Select(f => (int)f.Key.SourcePort));
        Assert.Equal((10ul, 1ul), (red.Other.Packets, red.Other.Flows));
    }

    [Fact]
    public void Flows_that_left_a_table_stay_in_their_tenants_other()
    {
        // One bucket of four ways: the fifth flow evicts the smallest.
        var table = new FlowTable(4, 2);
        for (ushort port = 1; port <= 5; port++)
            Record(table, Udp(1, port), 10 - port);
        TenantFlows blue = Assert.Single(FlowReport.Collect([table], 0, 2, top: 10));
        Assert.Equal((4, 35ul, 1ul), (blue.Top.Count, blue.Packets, blue.Other.Flows));
    }

    [Fact]
    public void A_reset_for_a_new_tenant_layout_forgets_every_flow_and_aggregate_and_old_tables_are_not_read()
    {
        var table = new FlowTable(4, 2);
        for (ushort port = 1; port <= 5; port++)
            Record(table, Udp(1, port), 3);
        Assert.NotEmpty(FlowReport.Collect([table], 0, 2, 10));

        Assert.Empty(FlowReport.Collect([table], layout: 1, 2, 10)); // the worker has not reset yet: skipped
        table.Reset(1);
        Assert.Equal(1, table.Layout);
        Assert.Empty(table.Read());
        Assert.Equal(default, table.Aggregate(1));
        Assert.Empty(FlowReport.Collect([table], 1, 2, 10));
        Record(table, Udp(1, 9), 2);
        Assert.Equal(2ul, Assert.Single(FlowReport.Collect([table], 1, 2, 10)).Packets);
    }

    [Fact]
    public void The_tenant_layout_moves_only_when_a_tenant_leaves()
    {
        var ports = new Dictionary<string, ushort>();
        SwitchTables Tables(params string[] tenants) => SwitchTables.Build(new SwitchSpec([.. tenants.Select(t => new TenantSpec(t))], [], []), ports, 1);

        SwitchTables first = Tables("red", "blue").Succeeding(SwitchTables.Empty);
        SwitchTables added = Tables("red", "blue", "green").Succeeding(first);
        SwitchTables removed = Tables("red", "green").Succeeding(added);
        SwitchTables readded = Tables("red", "green", "blue").Succeeding(removed);
        SwitchTables last = Tables("red", "green").Succeeding(readded);
        Assert.Equal([0, 0, 1, 1, 2], new[] { first, added, removed, readded, last }.Select(t => t.TenantLayout));
    }

    [Fact]
    public void The_report_names_tenants_addresses_protocols_and_drop_reasons_and_prints_as_a_table()
    {
        var table = new FlowTable(64, 2);
        Record(table, Udp(0, 40000), 3, bytes: 60);
        var ipv6 = new FlowKey(0, 5001, 0x86DD, 6, UInt128.One, 2, 443, 50000);
        Record(table, ipv6, 2, bytes: 100, reason: DropReason.SpoofedIpv6Source);
        var arp = new FlowKey(-1, 0, 0x0806, 0, 0x02_00_00_00_00_01, 0xFF_FF_FF_FF_FF_FF, 0, 0);
        Record(table, arp, 1, bytes: 42);

        JsonObject json = FlowReport.ToJson(FlowReport.Collect([table], 0, 1, 10), ["red"], 10, sampleRate: 1, now: 3000, ticksPerSecond: 1000);
        JsonArray tenants = json["tenants"]!.AsArray();
        Assert.Equal(["red", null], tenants.Select(t => (string?)t!["tenant"]));
        JsonArray red = tenants[0]!["flows"]!.AsArray();
        Assert.Equal("""{"vni":5001,"protocol":"tcp","source":"::1","destination":"::2","source_port":443,"destination_port":50000,"packets":2,"bytes":200,"first_seen_s_ago":2,"last_seen_s_ago":1.999,"drops":["spoofed_ipv6_source"]}""",
            red[0]!.ToJsonString());
        Assert.Equal(("10.0.0.1", 40000), ((string)red[1]!["source"]!, (int)red[1]!["source_port"]!));
        JsonNode none = tenants[1]!["flows"]![0]!;
        Assert.Equal(("0x0806", "02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff"), ((string)none["ether_type"]!, (string)none["source"]!, (string)none["destination"]!));
        Assert.Null(none["source_port"]);

        // Columns are padded to their widest cell, two spaces apart.
        string[][] rows = [.. FlowsTable.Format(json).Split('\n').Select(line => Regex.Split(line, " {2,}"))];
        Assert.Equal(["TENANT", "VNI", "PROTO", "SOURCE", "DESTINATION", "PACKETS", "BYTES", "LAST SEEN", "DROPS"], rows[0]);
        Assert.Equal(["red", "5001", "tcp", "[::1]:443", "[::2]:50000", "2", "200", "1.999 s ago", "spoofed_ipv6_source"], rows[1]);
        Assert.Equal(["red", "0", "udp", "10.0.0.1:40000", "10.0.0.2:53", "3", "180", "1.998 s ago"], rows[2]);
        Assert.Equal(["(none)", "0", "0x0806", "02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", "1", "42", "2 s ago"], rows[3]);
        Assert.Equal(4, rows.Length);
    }
}
