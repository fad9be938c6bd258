using VSwitch.Dataplane.Switching;
using Xunit;
using VSwitch.Dataplane.Collections;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Switching;

public class TablesTests
{
    [Fact]
    public void Ports_without_a_VM_and_the_uplink_are_not_in_any_tenant()
    {
        SwitchTables tables = TestTopology.Build();
        Assert.Equal(PortRole.Uplink, tables.Ports[5]!.Role);
        Assert.False(tables.Ports[5]!.IsBoundVm);
        Assert.False(tables.Ports[6]!.IsBoundVm);
        Assert.Null(tables.Ports[7]);
        Assert.Equal(5, tables.MacTable.Count);
        Assert.Equal(5, tables.ArpTable.Count);
    }

    [Fact]
    public void Rx_queues_are_dealt_to_workers_round_robin_and_each_polled_once()
    {
        SwitchTables tables = TestTopology.Build(redBQueues: 4, workers: 2);
        var all = tables.RxByWorker.SelectMany(w => w).ToList();
        Assert.Equal(7 + 3, all.Count);
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(5, tables.RxByWorker[0].Length);
        Assert.Equal(5, tables.RxByWorker[1].Length);
        Assert.Equal(4, all.Count(q => q.Port == 1));
    }

    [Fact]
    public void Map_finds_every_key_and_nothing_else()
    {
        var random = new Random(7);
        var keys = Enumerable.Range(0, 5000).Select(_ => (ulong)random.NextInt64(1, long.MaxValue)).Distinct().ToList();
        var map = new ULongMap<int>(keys.Select((k, i) => KeyValuePair.Create(k, i)).ToList());
        Assert.Equal(keys.Count, map.Count);
        for (int i = 0; i < keys.Count; i++)
        {
            Assert.True(map.TryGetValue(keys[i], out int value));
            Assert.Equal(i, value);
        }
        var present = keys.ToHashSet();
        for (int i = 0; i < 5000; i++)
        {
            ulong probe = (ulong)random.NextInt64(1, long.MaxValue);
            Assert.Equal(present.Contains(probe), map.TryGetValue(probe, out _));
        }
    }

    [Fact]
    public void Map_rejects_the_reserved_key_and_duplicates()
    {
        Assert.Throws<ArgumentException>(() => new ULongMap<int>([KeyValuePair.Create(0UL, 1)]));
        Assert.Throws<ArgumentException>(() => new ULongMap<int>([KeyValuePair.Create(5UL, 1), KeyValuePair.Create(5UL, 2)]));
    }

    [Fact]
    public void Flow_hash_keeps_a_flow_on_one_queue_and_spreads_flows()
    {
        byte[] a = Frames.Udp4(TestTopology.MacA, TestTopology.MacB, "10.0.0.1", "10.0.0.2", srcPort: 1234);
        byte[] b = Frames.Udp4(TestTopology.MacA, TestTopology.MacB, "10.0.0.1", "10.0.0.2", srcPort: 1234);
        Assert.Equal(FlowHash.Compute(a), FlowHash.Compute(b));

        var perQueue = new int[4];
        for (ushort port = 1024; port < 2048; port++)
            perQueue[FlowHash.Compute(Frames.Udp4(TestTopology.MacA, TestTopology.MacB, "10.0.0.1", "10.0.0.2", srcPort: port)) % 4]++;
        Assert.All(perQueue, n => Assert.InRange(n, 256 - 64, 256 + 64));
    }
}
