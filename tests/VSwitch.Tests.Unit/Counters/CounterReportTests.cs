// Every counter is declared once, in WorkerCounters: the sum across workers and the counters
// report's totals follow from the declaration, and docs/control-socket.md documents each total.
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VSwitch.Dataplane.Counters;
using Xunit;

namespace VSwitch.Tests.Unit.Counters;

public sealed partial class CounterReportTests
{
    [Fact]
    public void Sum_adds_every_counter_of_every_worker()
    {
        WorkerCounters a = Filled(1), b = Filled(1000);

        WorkerCounters sum = WorkerCounters.Sum([a, b]);

        foreach (FieldInfo field in typeof(WorkerCounters).GetFields())
        {
            if (field.GetValue(sum) is ulong total)
                Assert.True(total == (ulong)field.GetValue(a)! + (ulong)field.GetValue(b)!, field.Name);
            else if (field.GetValue(sum) is ulong[] totals)
                Assert.True(totals.Select((t, i) => t == ((ulong[])field.GetValue(a)!)[i] + ((ulong[])field.GetValue(b)!)[i]).All(x => x), field.Name);
        }
        Assert.Equal(1001UL, sum.Unicast);
        Assert.Equal(1001UL * 7, sum.Drops[7]);
    }

    [Fact]
    public void A_sum_into_a_kept_instance_starts_from_zero_and_a_misshapen_one_is_not_used()
    {
        WorkerCounters a = Filled(1), b = Filled(1000);
        WorkerCounters kept = WorkerCounters.Sum([a, b]);

        Assert.Same(kept, WorkerCounters.Sum([a], kept));
        Assert.Equal(1UL, kept.Unicast);
        Assert.Equal(7UL, kept.Drops[7]);
        Assert.All(kept.QueueRx.Select((total, i) => (total, i)), q => Assert.Equal(a.QueueRx[q.i], q.total));
        Assert.NotSame(kept, WorkerCounters.Sum([new WorkerCounters(kept.Ports + 1, kept.QueuesPerPort, 1)], kept));
    }

    [Fact]
    public void A_drop_counts_host_wide_at_its_queue_and_at_its_port_under_its_reason()
    {
        var counters = new WorkerCounters(ports: 4, queuesPerPort: 4, remoteHosts: 1);

        counters.DropAt(queueSlot: 2 * 4 + 3, DropReason.SpoofedSourceMac, 5);
        counters.DropAt(queueSlot: 2 * 4 + 0, DropReason.TxQueueFull, 2);
        counters.DropAt(queueSlot: 1 * 4 + 3, DropReason.SpoofedSourceMac, 1);

        Assert.Equal(6UL, counters.Drops[(int)DropReason.SpoofedSourceMac]);
        Assert.Equal(5UL, counters.QueueDrops[11]);
        ulong[] port2 = counters.PortDropsOf(2), port1 = counters.PortDropsOf(1);
        Assert.Equal(5UL, port2[(int)DropReason.SpoofedSourceMac]);
        Assert.Equal(2UL, port2[(int)DropReason.TxQueueFull]);
        Assert.Equal(7UL, port2.Aggregate(0UL, (sum, n) => sum + n));
        Assert.Equal(1UL, port1.Aggregate(0UL, (sum, n) => sum + n));
        Assert.All(counters.PortDropsOf(0).Concat(counters.PortDropsOf(3)), n => Assert.Equal(0UL, n));
    }

    [Fact]
    public void Queues_per_port_must_be_a_power_of_two()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerCounters(ports: 4, queuesPerPort: 3, remoteHosts: 1));
    }

    [Fact]
    public void Totals_are_the_outcome_counters_under_their_snake_case_names()
    {
        var report = new JsonObject();

        CounterReport.AddTotals(report, WorkerCounters.Sum([Filled(1)]));

        Assert.Equal(["unicast", "flooded", "arp_replies", "vtep_arp_replies", "neighbour_replies", "arp_requests_sent"], report.Select(p => p.Key));
        Assert.Equal(1UL, (ulong)report["unicast"]!);
    }

    [Fact]
    public void Every_total_is_documented_in_the_control_socket_reference()
    {
        string doc = File.ReadAllText(Repository.PathOf("docs", "control-socket.md"));
        string counters = doc[doc.IndexOf("### `counters`", StringComparison.Ordinal)..doc.IndexOf("### `list`", StringComparison.Ordinal)];
        var documented = TableKey().Matches(counters).Select(m => m.Groups[1].Value).ToHashSet();
        var report = new JsonObject();

        CounterReport.AddTotals(report, new WorkerCounters(ports: 4, queuesPerPort: 4, remoteHosts: 4));

        Assert.All(report.Select(p => p.Key), key => Assert.Contains(key, documented));
    }

    /// <summary>Every scalar counter set to a distinct multiple of <paramref name="unit"/>, every array slot i to i * unit.</summary>
    private static WorkerCounters Filled(ulong unit)
    {
        var counters = new WorkerCounters(ports: 4, queuesPerPort: 4, remoteHosts: 4);
        ulong next = 1;
        foreach (FieldInfo field in typeof(WorkerCounters).GetFields())
        {
            if (field.FieldType == typeof(ulong))
                field.SetValue(counters, next++ * unit);
            else if (field.GetValue(counters) is ulong[] array)
            {
                for (int i = 0; i < array.Length; i++)
                    array[i] = (ulong)i * unit;
            }
        }
        return counters;
    }

    /// <summary>A row of a markdown table whose first cell names a field: | `name` | ...</summary>
    [GeneratedRegex(@"^\| `([a-z_]+)`", RegexOptions.Multiline)]
    private static partial Regex TableKey();
}
