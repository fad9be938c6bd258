// The per-worker flow table (src/Dataplane/Flows): keys read off real frame shapes, exact figures
// while flows fit, heavy flows kept and totals kept exact under a flood of new flows, no
// allocation on the worker's side, and a reader racing the worker never sees a key torn in two.
using System.Buffers.Binary;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Flows;
using VSwitch.Tests.Unit.Switching;
using Xunit;

namespace VSwitch.Tests.Unit.Flows;

public sealed class FlowTableTests
{
    private static readonly UInt128 Mapped = new(0, 0xFFFF_0000_0000);

    private static byte[] Udp4(uint source, uint destination, ushort sourcePort, ushort destinationPort, int payload = 18)
    {
        byte[] frame = new byte[14 + 20 + 8 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        frame[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), (ushort)(20 + 8 + payload));
        frame[14 + 8] = 64;
        frame[14 + 9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(26), source);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(30), destination);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(36), destinationPort);
        return frame;
    }

    private static FlowKey Key(int tenant, ushort sourcePort) =>
        new(tenant, 0, 0x0800, 17, Mapped | 0x0A000001u, Mapped | 0x0A000002u, sourcePort, 53);

    [Fact]
    public void An_ipv4_udp_frame_is_its_five_tuple_in_its_tenant()
    {
        FlowKey key = FlowKey.FromFrame(3, 5001, Udp4(0x0A000001, 0x0A000002, 40000, 53));
        Assert.Equal(new FlowKey(3, 5001, 0x0800, 17, Mapped | 0x0A000001u, Mapped | 0x0A000002u, 40000, 53), key);
    }

    [Fact]
    public void An_ipv6_frame_is_keyed_past_its_extension_headers_and_anything_else_by_its_macs()
    {
        byte[] tcp = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 443);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), 50000);
        byte[] ipv6 = FirstHopFrames.Ipv6("02:00:00:00:00:01", "02:00:00:00:00:02", "fd00::1", "fd00::2", 6, tcp, (0, FirstHopFrames.Options8));
        FlowKey key = FlowKey.FromFrame(1, 0, ipv6);
        Assert.Equal((6, (ushort)443, (ushort)50000), (key.Protocol, key.SourcePort, key.DestinationPort));
        Assert.Equal(System.Net.IPAddress.Parse("fd00::1").GetAddressBytes(), BigEndian(key.Source));

        byte[] arp = new byte[42];
        Convert.FromHexString("020000000002" + "020000000001" + "0806").CopyTo(arp, 0);
        FlowKey other = FlowKey.FromFrame(1, 0, arp);
        Assert.Equal(new FlowKey(1, 0, 0x0806, 0, 0x020000000001, 0x020000000002, 0, 0), other);
    }

    private static byte[] BigEndian(UInt128 value)
    {
        byte[] bytes = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return bytes;
    }

    [Fact]
    public void Every_prefix_of_a_frame_has_a_key_and_none_throws()
    {
        byte[] tcp = new byte[20];
        byte[][] frames = [Udp4(1, 2, 3, 4), FirstHopFrames.Ipv6("02:00:00:00:00:01", "02:00:00:00:00:02", "fd00::1", "fd00::2", 6, tcp, (0, FirstHopFrames.Options8))];
        foreach (byte[] frame in frames)
        {
            for (int length = 0; length <= frame.Length; length++)
                Assert.Equal(7, FlowKey.FromFrame(7, 0, frame.AsSpan(0, length)).Tenant);
        }
    }

    [Fact]
    public void Flows_that_fit_are_counted_exactly_with_the_drop_reasons_that_hit_them()
    {
        // Room to spare: with four ways a bucket can overflow long before the table is full (100
        // flows in 1024 overflow one bucket in about 1 table of 60), and then a flow moves to its tenant's aggregate.
        var table = new FlowTable(8192, 16);
        for (ushort port = 1; port <= 100; port++)
        {
            for (int n = 0; n < port; n++)
                table.Record(Key(port % 4, port), 64, n, n == 0 && port % 10 == 0 ? DropReason.SpoofedIpv4Source : DropReason.None);
        }
        List<FlowRecord> flows = table.Read();
        Assert.Equal(100, flows.Count);
        foreach (FlowRecord flow in flows)
        {
            Assert.Equal((ulong)flow.Key.SourcePort, flow.Packets);
            Assert.Equal(64UL * flow.Key.SourcePort, flow.Bytes);
            Assert.Equal((0, flow.Key.SourcePort - 1L), (flow.FirstSeen, flow.LastSeen));
            Assert.Equal(flow.Key.SourcePort % 10 == 0 ? 1UL << (int)DropReason.SpoofedIpv4Source : 0, flow.DropReasons);
        }
        Assert.Equal(new FlowAggregate(0, 0, 0), table.Aggregate(0));
    }

    [Fact]
    public void A_flood_of_new_flows_leaves_the_heavy_ones_in_place_and_every_tenants_totals_exact()
    {
        const int Heavy = 8, Rounds = 1000, NewPerRound = 100;
        var table = new FlowTable(1024, 16);
        var sent = new ulong[3];
        var random = new Random(15);
        for (int round = 0; round < Rounds; round++)
        {
            for (int h = 0; h < Heavy; h++)
            {
                table.Record(Key(h % 2, (ushort)h), 100, round, DropReason.None);
                sent[h % 2] += 100;
            }
            for (int n = 0; n < NewPerRound; n++)
            {
                // One frame each, in tenant 2, never the same flow twice.
                var flood = new FlowKey(2, 0, 0x0800, 17, Mapped | (uint)random.Next(), Mapped | (uint)(round * NewPerRound + n), 1, 1);
                table.Record(flood, 64, round, DropReason.None);
                sent[2] += 64;
            }
        }
        List<FlowRecord> flows = table.Read();
        Assert.True(flows.Count <= table.Capacity);
        for (int h = 0; h < Heavy; h++)
        {
            FlowRecord heavy = Assert.Single(flows, f => f.Key == Key(h % 2, (ushort)h));
            // Counted from its first frame, unless the flood took its way while it had only a few.
            Assert.InRange(heavy.Packets, Rounds - 5UL, (ulong)Rounds);
        }
        for (int tenant = 0; tenant < 3; tenant++)
        {
            ulong inTable = flows.Where(f => f.Key.Tenant == tenant).Aggregate(0UL, (sum, f) => sum + f.Bytes);
            Assert.Equal(sent[tenant], inTable + table.Aggregate(tenant).Bytes);
        }
        Assert.True(table.Aggregate(2).Flows >= (ulong)(Rounds * NewPerRound - table.Capacity), $"{table.Aggregate(2)}");
    }

    // Fully optimised from the first call, as the worker's loop is in vswitchd (TieredCompilation
    // off): no on-stack replacement compiles in the middle of the measurement.
    [Fact]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void Recording_allocates_nothing_on_the_workers_side()
    {
        var table = new FlowTable(256, 4);
        FlowKey[] keys = [.. Enumerable.Range(0, 4096).Select(i => Key(i % 4, (ushort)i))];
        for (int i = 0; i < keys.Length; i++)
            table.Record(keys[i], 64, i, DropReason.None); // first calls: JIT and class constructors
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int pass = 0; pass < 25; pass++)
        {
            for (int i = 0; i < keys.Length; i++)
                table.Record(keys[i], 64, i, i % 7 == 0 ? DropReason.TxQueueFull : DropReason.None);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>Frames through the worker's accounting (Flows/FlowAccounting.cs) as a burst loop drives it.</summary>
    private static void Burst(FlowTable table, int tenant, byte[][] frames, long now = 1, DropReason[]? reasons = null)
    {
        var accounting = new FlowTableAccounting(table, now);
        for (int i = 0; i < frames.Length; i++)
        {
            accounting.Observe(tenant, 0, frames[i]);
            accounting.Count(reasons is null ? DropReason.None : reasons[i]);
        }
        accounting.Finish();
    }

    /// <summary>A burst from a VM port as SwitchBurst drives the accounting: counted and sampled at once, the samples counted once the burst's fates are known.</summary>
    private static void WholeBurst(FlowTable table, int tenant, byte[][] frames, long now = 1, DropReason[]? reasons = null)
    {
        var accounting = new FlowTableAccounting(table, now);
        ulong bytes = 0;
        foreach (byte[] frame in frames)
            bytes += (ulong)frame.Length;
        accounting.ObserveBurst(tenant, frames.Length, bytes);
        for (int i = accounting.FirstSample; i < frames.Length; i += accounting.SampleRate)
            accounting.SampleAt(i, tenant, 0, frames[i]);
        accounting.CountSamples(reasons ?? new DropReason[frames.Length]);
        accounting.Finish();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(16)]
    [InlineData(64)]
    public void A_burst_counted_at_once_samples_the_frames_that_counting_one_at_a_time_would(int rate)
    {
        // Bursts of 1 to 32 frames, a new flow each, through a table small enough to evict: the
        // same samples in the same order leave both tables the same.
        var perFrame = new FlowTable(256, 4, rate);
        var perBurst = new FlowTable(256, 4, rate);
        var random = new Random(rate);
        ushort port = 0;
        for (int burst = 0; burst < 300; burst++)
        {
            byte[][] frames = [.. Enumerable.Range(0, random.Next(1, 33)).Select(_ => Udp4(0x0A000001, 0x0A000002, port++, 53, payload: random.Next(0, 200)))];
            int tenant = burst % 3;
            DropReason[] reasons = [.. frames.Select(_ => random.Next(4) == 0 ? DropReason.SpoofedIpv4Source : DropReason.None)];
            Burst(perFrame, tenant, frames, burst, reasons);
            WholeBurst(perBurst, tenant, frames, burst, reasons);
        }
        Assert.Equal(perFrame.Read(), perBurst.Read());
        Assert.NotEmpty(perBurst.Read());
        Assert.Contains(perBurst.Read(), f => f.DropReasons != 0);
        for (int tenant = 0; tenant < 3; tenant++)
        {
            Assert.Equal(perFrame.Totals(tenant), perBurst.Totals(tenant));
            Assert.Equal(perFrame.Aggregate(tenant), perBurst.Aggregate(tenant));
        }
    }

    [Fact]
    public void Sampled_one_frame_in_N_a_flow_is_estimated_N_frames_at_a_time_and_the_tenants_totals_stay_exact()
    {
        var table = new FlowTable(64, 4, sampleRate: 4);
        byte[] big = Udp4(0x0A000001, 0x0A000002, 1000, 53), small = Udp4(0x0A000001, 0x0A000002, 1001, 53, payload: 100);
        // 40 bursts of 3 big frames and 1 small one: the countdown carries over from burst to burst.
        for (int burst = 0; burst < 40; burst++)
            Burst(table, 2, [big, big, big, small]);
        Burst(table, 3, [big, big, big]);

        Assert.Equal((160ul, (ulong)(120 * big.Length + 40 * small.Length)), table.Totals(2));
        Assert.Equal((3ul, (ulong)(3 * big.Length)), table.Totals(3));
        // Every 4th frame is the small one: sampling in step with the traffic sees only it, as sFlow would.
        FlowRecord sampled = Assert.Single(table.Read(), f => f.Key.Tenant == 2);
        Assert.Equal((1001, 160ul, 160ul * (ulong)small.Length), (sampled.Key.SourcePort, sampled.Packets, sampled.Bytes));
    }

    [Fact]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void The_workers_accounting_allocates_nothing_sampled_or_not()
    {
        byte[][] frames = [.. Enumerable.Range(0, 32).Select(i => Udp4(0x0A000001, 0x0A000002, (ushort)(1000 + i), 53))];
        var reasons = new DropReason[frames.Length];
        foreach (int rate in new[] { 1, 16 })
        {
            var table = new FlowTable(64, 4, rate);
            for (int i = 0; i < 100; i++)
            {
                Burst(table, i % 4, frames, i); // first calls: JIT and class constructors
                WholeBurst(table, i % 4, frames, i, reasons);
            }
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++)
            {
                Burst(table, i % 4, frames, i);
                WholeBurst(table, i % 4, frames, i, reasons);
            }
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [Fact]
    public void A_reader_racing_the_worker_never_sees_a_key_torn_between_two_flows()
    {
        // Every key the worker records has Source == Destination and Tenant == SourcePort % 5: a
        // record mixing two flows' keys breaks one of them.
        var table = new FlowTable(64, 8);
        using var stop = new CancellationTokenSource();
        var worker = new Thread(() =>
        {
            uint i = 0;
            while (!stop.IsCancellationRequested)
            {
                ushort port = (ushort)(i * 2654435761u >> 20);
                UInt128 address = Mapped | (i * 40503u);
                table.Record(new FlowKey(port % 5, 0, 0x0800, 6, address, address, port, 80), 60, i, DropReason.None);
                i++;
            }
        });
        worker.Start();
        int read = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 300)
        {
            foreach (FlowRecord flow in table.Read())
            {
                Assert.Equal(flow.Key.Source, flow.Key.Destination);
                Assert.Equal(flow.Key.SourcePort % 5, flow.Key.Tenant);
                read++;
            }
        }
        stop.Cancel();
        worker.Join();
        // The check is only as good as the records it saw: thousands per run here, far more than the bound.
        Assert.True(read > 100, $"only {read} records read");
        TestContext.Current.SendDiagnosticMessage($"{read} records read while the worker replaced flows");
    }
}
