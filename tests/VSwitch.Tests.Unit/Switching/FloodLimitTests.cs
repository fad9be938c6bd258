// The per-VM flood limit, on a clock the test moves by hand.
using System.Diagnostics;
using VSwitch.Dataplane.Switching;
using Xunit;
using static VSwitch.Tests.Unit.Switching.TestTopology;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Switching;

public class FloodLimitTests
{
    private struct FakeClock(long now) : IClock
    {
        public readonly long Now() => now;
    }

    private static readonly long s_second = Stopwatch.Frequency;

    /// <summary>red-a limited to <paramref name="rate"/> pps with a burst of <paramref name="burst"/>.</summary>
    private static SwitchTables Tables(int rate, int burst, int workers = 1, int redAQueues = 1)
    {
        SwitchTables tables = Build(workers: workers);
        SwitchSpec spec = tables.Spec;
        spec = spec with
        {
            Vms = spec.Vms.SetItem(0, spec.Vms[0] with { FloodRatePps = rate, FloodBurst = burst }),
            Ports = spec.Ports.SetItem(0, spec.Ports[0] with { Queues = redAQueues }),
        };
        var ids = tables.Ports.OfType<PortBinding>().ToDictionary(p => p.Name, p => p.PortId);
        return SwitchTables.Build(spec, ids, workers);
    }

    /// <summary>What the worker does with a frame from red-a: classify, then the flood limit.</summary>
    private static DropReason Send(SwitchTables tables, FloodLimiter limiter, byte[] frame, long now)
    {
        DropReason reason = L2Switch.Classify(tables, tables.Ports[0]!, frame, out Forwarding forwarding);
        return reason != DropReason.None ? reason : limiter.Admit(tables, 0, forwarding.Action, new FakeClock(now));
    }

    private static readonly byte[] s_broadcast = Frames.Udp4(MacA, "ff:ff:ff:ff:ff:ff", IpA, "10.0.0.255");
    private static readonly byte[] s_multicast = Frames.Udp4(MacA, "01:00:5e:00:00:fb", IpA, "224.0.0.251");
    private static readonly byte[] s_unknown = Frames.Udp4(MacA, "02:00:00:00:00:99", IpA, "10.0.0.99");
    private static readonly byte[] s_known = Frames.Udp4(MacA, MacB, IpA, IpB);

    [Fact]
    public void The_flood_after_the_burst_is_dropped_and_known_unicast_is_not_limited()
    {
        SwitchTables tables = Tables(rate: 10, burst: 5);
        var limiter = new FloodLimiter();
        long t0 = 1_000 * s_second;
        byte[][] floods = [s_broadcast, s_multicast, s_unknown, s_broadcast, s_unknown];
        foreach (byte[] frame in floods)
            Assert.Equal(DropReason.None, Send(tables, limiter, frame, t0));
        Assert.Equal(DropReason.FloodRateExceeded, Send(tables, limiter, s_multicast, t0));
        Assert.Equal(DropReason.FloodRateExceeded, Send(tables, limiter, s_unknown, t0 + s_second / 10 - 1));
        for (int i = 0; i < 1000; i++)
            Assert.Equal(DropReason.None, Send(tables, limiter, s_known, t0));
        // One token every 1/10 s, never more than the burst after a long pause.
        Assert.Equal(DropReason.None, Send(tables, limiter, s_broadcast, t0 + s_second / 10));
        Assert.Equal(DropReason.FloodRateExceeded, Send(tables, limiter, s_broadcast, t0 + s_second / 10));
        long later = t0 + 3600 * s_second;
        for (int i = 0; i < 5; i++)
            Assert.Equal(DropReason.None, Send(tables, limiter, s_broadcast, later));
        Assert.Equal(DropReason.FloodRateExceeded, Send(tables, limiter, s_broadcast, later));
        // Another worker's bucket is its own.
        Assert.Equal(DropReason.None, Send(tables, new FloodLimiter(), s_broadcast, later));
    }

    [Fact]
    public void Workers_polling_one_VM_share_its_limit()
    {
        // red-a's two queues go to two workers: each gets half the rate and burst.
        SwitchTables tables = Tables(rate: 10, burst: 4, workers: 2, redAQueues: 2);
        var limiter = new FloodLimiter();
        Assert.Equal(DropReason.None, Send(tables, limiter, s_broadcast, s_second));
        Assert.Equal(DropReason.None, Send(tables, limiter, s_broadcast, s_second));
        Assert.Equal(DropReason.FloodRateExceeded, Send(tables, limiter, s_broadcast, s_second));
        Assert.Equal(DropReason.None, Send(tables, limiter, s_broadcast, s_second + s_second / 5));
    }

    [Fact]
    public void New_tables_start_with_a_full_bucket()
    {
        var limiter = new FloodLimiter();
        SwitchTables tables = Tables(rate: 1, burst: 1);
        Assert.Equal(DropReason.None, Send(tables, limiter, s_broadcast, s_second));
        Assert.Equal(DropReason.FloodRateExceeded, Send(tables, limiter, s_broadcast, s_second));
        Assert.Equal(DropReason.None, Send(Tables(rate: 1, burst: 1), limiter, s_broadcast, s_second));
    }

    [Fact]
    public void The_limit_allocates_nothing()
    {
        SwitchTables tables = Tables(rate: 1000, burst: 10);
        // A first run outside the measurement: class constructors, and the runtime's own first-call
        // and on-stack-replacement work for the loop.
        Offer(tables, new FloodLimiter());
        var limiter = new FloodLimiter();
        long before = GC.GetAllocatedBytesForCurrentThread();
        int dropped = Offer(tables, limiter);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.InRange(dropped, 4000, 6000); // 2000 offered per second against 1000 allowed
    }

    /// <summary>Five seconds of broadcast at 2000 pps, each with a known unicast beside it; returns the broadcasts dropped.</summary>
    private static int Offer(SwitchTables tables, FloodLimiter limiter)
    {
        int dropped = 0;
        for (int i = 0; i < 10_000; i++)
        {
            dropped += Send(tables, limiter, s_broadcast, i * s_second / 2000) == DropReason.FloodRateExceeded ? 1 : 0;
            Send(tables, limiter, s_known, i * s_second / 2000);
        }
        return dropped;
    }
}
