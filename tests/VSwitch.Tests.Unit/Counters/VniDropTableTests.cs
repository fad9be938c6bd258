// The per-tenant share of the uplink's drops (src/Dataplane/Counters/VniDropTable.cs): exact per
// (VNI, reason), merged across workers, bounded when full, free of allocation on the worker, and
// readable while the worker writes.
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Metrics;
using VSwitch.Dataplane.Spec;
using Xunit;

namespace VSwitch.Tests.Unit.Counters;

public sealed class VniDropTableTests
{
    [Fact]
    public void Each_vni_and_reason_counts_apart_and_workers_add_up()
    {
        VniDropTable a = new(), b = new();
        for (int i = 0; i < 5; i++)
            a.Add(5001, DropReason.SpoofedIpv4Source);
        a.Add(5001, DropReason.UnknownInnerDestination);
        b.Add(5001, DropReason.SpoofedIpv4Source);
        b.Add(0xFFFFFF, DropReason.GuestRxRingFull);
        b.Add(0, DropReason.RuntFrame);

        var byVni = new Dictionary<uint, ulong[]>();
        a.AddTo(byVni);
        b.AddTo(byVni);

        Assert.Equal([0u, 5001u, 0xFFFFFFu], byVni.Keys.Order());
        Assert.Equal(6UL, byVni[5001][(int)DropReason.SpoofedIpv4Source]);
        Assert.Equal(1UL, byVni[5001][(int)DropReason.UnknownInnerDestination]);
        Assert.Equal(7UL, byVni[5001].Aggregate(0UL, (sum, n) => sum + n));
        Assert.Equal(1UL, byVni[0xFFFFFF][(int)DropReason.GuestRxRingFull]);
        Assert.Equal(1UL, byVni[0][(int)DropReason.RuntFrame]);
    }

    [Fact]
    public void Vnis_are_named_by_the_tenants_that_hold_them_now()
    {
        VniDropTable a = new(), b = new();
        a.Add(100, DropReason.SpoofedInnerSource);
        b.Add(100, DropReason.SpoofedInnerSource);
        b.Add(200, DropReason.MalformedInner);
        b.Add(300, DropReason.MalformedInner);

        // Tenant "gone" held VNI 300 and left: its drops are named by no one.
        (Dictionary<string, ulong[]> byTenant, ulong unattributed) = CountersSnapshot.TenantUplinkDropsOf([a, b], [new TenantSpec("red", 100), new TenantSpec("blue", 200), new TenantSpec("green", 400)]);

        Assert.Equal(["blue", "red"], byTenant.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(2UL, byTenant["red"][(int)DropReason.SpoofedInnerSource]);
        Assert.Equal(1UL, byTenant["blue"][(int)DropReason.MalformedInner]);
        Assert.Equal(0UL, byTenant["red"][(int)DropReason.MalformedInner]);
        Assert.Equal(0UL, unattributed);
    }

    [Fact]
    public void A_full_table_counts_the_rest_as_unattributed_and_loses_nothing()
    {
        var table = new VniDropTable();
        const int Vnis = VniDropTable.Capacity + 500;
        for (uint vni = 1; vni <= Vnis; vni++)
        {
            table.Add(vni, DropReason.SpoofedInnerSource);
            table.Add(vni, DropReason.SpoofedInnerSource);
        }

        var byVni = new Dictionary<uint, ulong[]>();
        table.AddTo(byVni);
        ulong attributed = byVni.Values.Aggregate(0UL, (sum, r) => sum + r[(int)DropReason.SpoofedInnerSource]);

        Assert.True(byVni.Count <= VniDropTable.Capacity, $"{byVni.Count} pairs in a table of {VniDropTable.Capacity}");
        Assert.True(table.Unattributed >= 2 * 500, $"{table.Unattributed} unattributed");
        Assert.Equal(2UL * Vnis, attributed + table.Unattributed);
        // A pair that got a slot keeps counting there: both of its drops are in it.
        Assert.All(byVni.Values, r => Assert.Equal(2UL, r[(int)DropReason.SpoofedInnerSource]));
    }

    [Fact]
    public void Counting_allocates_nothing()
    {
        var table = new VniDropTable();
        table.Add(1, DropReason.MalformedInner);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (uint i = 0; i < 100_000; i++)
            table.Add(i % 3000, (DropReason)(1 + i % 40));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void A_reader_while_the_worker_counts_sees_only_whole_pairs_that_never_go_back()
    {
        var table = new VniDropTable();
        const int Drops = 2_000_000;
        var writer = new Thread(() =>
        {
            for (int i = 0; i < Drops; i++)
                table.Add((uint)(i % 1000), DropReason.SpoofedIpv4Source);
        });
        writer.Start();
        var last = new Dictionary<uint, ulong>();
        int reads = 0;
        while (writer.IsAlive || reads == 0)
        {
            var byVni = new Dictionary<uint, ulong[]>();
            table.AddTo(byVni);
            foreach ((uint vni, ulong[] reasons) in byVni)
            {
                ulong n = reasons[(int)DropReason.SpoofedIpv4Source];
                Assert.True(n >= 1, $"VNI {vni} visible with no drop");
                Assert.True(n >= last.GetValueOrDefault(vni), $"VNI {vni} went from {last.GetValueOrDefault(vni)} to {n}");
                last[vni] = n;
            }
            reads++;
        }
        writer.Join();
        var end = new Dictionary<uint, ulong[]>();
        table.AddTo(end);
        Assert.Equal(1000, end.Count);
        Assert.All(end.Values, r => Assert.Equal((ulong)(Drops / 1000), r[(int)DropReason.SpoofedIpv4Source]));
    }
}
