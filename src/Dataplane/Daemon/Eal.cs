// Starting DPDK's Environment Abstraction Layer from C#. rte_eal_init may run once per process
// and pins the calling thread to the main lcore, so vswitchd calls it once, from Main, before
// it starts any other thread.
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Ports;
using static VSwitch.Dataplane.Interop.Interop;

namespace VSwitch.Dataplane.Daemon;

internal static class Eal
{
    /// <summary>The argv vswitchd passes: the configured EAL args, the PMD directory, and one --vdev per port.</summary>
    public static List<string> Arguments(DaemonConfig config)
    {
        var args = new List<string> { "vswitchd" };
        args.AddRange(config.EalArgs);
        if (!config.EalArgs.Contains("-d"))
            args.AddRange(["-d", config.PmdDir]);
        foreach (var port in config.Spec.Ports.Where(p => p.VhostUser is null))
            args.AddRange(["--vdev", port.Devargs]);
        return args;
    }

    public static void Init(IReadOnlyList<string> args)
    {
        InstallResolver();
        if (EalInit(args) < 0)
            throw new InvalidOperationException($"rte_eal_init failed: {RteStrError(RteErrno)} (EAL args: {string.Join(' ', args.Skip(1))})");
    }

    public static IntPtr CreateMbufPool(int mbufs)
    {
        // RTE_MBUF_DEFAULT_BUF_SIZE: the headroom and one frame of at most MbufBudget.MaxMtu + 14 bytes.
        const ushort dataRoom = MbufBudget.Headroom + MbufBudget.DataRoom;
        uint cache = (uint)MbufBudget.CacheSize(mbufs);
        IntPtr pool = rte_pktmbuf_pool_create("vsw_mbufs", (uint)mbufs, cache, 0, dataRoom, rte_socket_id());
        if (pool == IntPtr.Zero)
            throw new InvalidOperationException($"rte_pktmbuf_pool_create({mbufs} mbufs) failed: {RteStrError(RteErrno)}; give EAL more memory (-m) or fewer mbufs");
        BindMbufCalls(pool);
        return pool;
    }
}
