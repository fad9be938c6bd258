// dpdk.mbufs is a floor the ports set: the loader refuses a pool that the ports' rx/tx rings, the
// per-lcore caches and the bursts in flight would drain, naming both numbers, and the same sum
// guards add-port (Vswitchd.Control; its integration test is RunningSwitchTests).
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Ports;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;
using Xunit;
using static VSwitch.Tests.Unit.Config.ConfigFixture;

namespace VSwitch.Tests.Unit.Ports;

public class MbufBudgetTests
{
    private static PortSpec Port(string devargs, int queues = 1) => new("p", devargs, PortRole.Vm, 1500, queues);

    [Theory]
    // Drivers that copy frames in and out keep no mbuf in their rings.
    [InlineData("net_pcap0,rx_pcap=in.pcap", 0)]
    [InlineData("net_null3", 0)]
    [InlineData("net_af_packet0,iface=eth1", 0)]
    [InlineData("net_vhost0,iface=/run/vm.sock", 0)]
    // Any other driver fills its rx ring and holds sent mbufs in its tx rings: 2 rx + 2 x 2 workers tx.
    [InlineData("net_tap0,iface=t0", 6 * 1024)]
    [InlineData("net_virtio_user0,path=/dev/vhost-net", 6 * 1024)]
    [InlineData("0000:00:04.0", 6 * 1024)]
    public void Rings_hold_mbufs_only_for_drivers_that_keep_them(string devargs, int expected) =>
        Assert.Equal(expected, MbufBudget.RingMbufs(Port(devargs, queues: 2), workers: 2));

    [Fact]
    public void Caches_and_bursts_count_for_every_worker_and_the_main_lcore()
    {
        // Caches of 256 hold up to 384 each (1.5 x, DPDK's flush threshold), on 3 lcores; each of the
        // 2 workers has an rx burst, a staged burst of replicas and one replica per remote host in flight.
        Assert.Equal(3 * 384 + 2 * (32 + 32 + 64), MbufBudget.Overhead(mbufs: 8191, workers: 2));
        // A small pool has small caches (at most half of it).
        Assert.Equal(2 * 255 + 128, MbufBudget.Overhead(mbufs: 340, workers: 1));
    }

    [Fact]
    public void A_pool_that_exactly_fits_is_enough_and_one_less_is_named()
    {
        PortSpec[] ports = [Port("net_tap0"), Port("net_null0")];
        int required = MbufBudget.Required(ports, 8191, 1);
        Assert.Equal(2048 + 896, required);
        Assert.Null(MbufBudget.Shortfall(ports, required, 1));
        int small = required - 1; // caches shrink only below 512 mbufs, so the requirement stays put here
        Assert.Equal($"{small} mbufs are fewer than the {required} the 2 port(s) need (2048 in rx/tx descriptors of 1024, 896 in per-lcore caches and bursts in flight of 1 worker(s))",
            MbufBudget.Shortfall(ports, small, 1));
    }

    [Fact]
    public void The_loader_refuses_a_pool_the_ports_would_drain()
    {
        // vm-a: a tap device with 2 queues; 2 workers: (2 + 2 x 2) x 1024 in its rings, 1408 in caches and bursts.
        string text = Yaml.With("devargs: net_null0", "devargs: net_tap0");
        Assert.Equal(["dpdk.mbufs: 4095 mbufs are fewer than the 7552 the 4 port(s) need (6144 in rx/tx descriptors of 1024, 1408 in per-lcore caches and bursts in flight of 2 worker(s))"],
            ErrorsOf(text));
        Assert.Equal(8191, ConfigLoader.Parse(text.With("mbufs: 4095", "mbufs: 8191"), ConfigFormat.Yaml).Mbufs);
    }

    [Fact]
    public void The_default_pool_serves_32_copying_ports_but_not_16_workers_caches()
    {
        PortSpec[] ports = [.. Enumerable.Range(0, SwitchTables.MaxEthPorts).Select(i => Port($"net_null{i}", queues: 8))];
        Assert.Null(MbufBudget.Shortfall(ports, DaemonConfig.DefaultMbufs, 2));
        // 17 lcore caches of up to 384 and 16 workers' bursts: 8576 > 8191.
        Assert.Equal(8576, MbufBudget.Required(ports, DaemonConfig.DefaultMbufs, DaemonConfig.MaxWorkerCores));
    }
}
