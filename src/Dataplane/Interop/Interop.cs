// The native boundary of vswitchd. Everything that touches a pointer into DPDK memory or calls
// native code lives in this folder; the rest of the dataplane works on Span<byte> and plain C#.
//
// Library names: DPDK's own exported functions are bound by their Debian sonames' link names
// (librte_eal.so, librte_ethdev.so, librte_mbuf.so, librte_mempool.so from libdpdk-dev); the
// inline fast-path functions go through native/dpdk-shim (libvswshim.so, copied beside vswitchd).
using System.Reflection;
using System.Runtime.InteropServices;

namespace VSwitch.Dataplane.Interop;

internal static unsafe partial class Interop
{
    internal const string EalLibrary = "rte_eal";
    internal const string EthdevLibrary = "rte_ethdev";
    internal const string MbufLibrary = "rte_mbuf";
    internal const string MempoolLibrary = "rte_mempool";
    internal const string ShimLibrary = "vswshim";
    internal const string LibcLibrary = "libc";

    private static int s_resolverInstalled;

    /// <summary>Maps the short library names above to files; call once before any native call.</summary>
    internal static void InstallResolver()
    {
        if (Interlocked.Exchange(ref s_resolverInstalled, 1) != 0)
            return;
        NativeLibrary.SetDllImportResolver(typeof(Interop).Assembly, Resolve);
    }

    // The first call of a P/Invoke binds it, and binding allocates on the calling thread (40 to
    // 90 bytes, Marshal.Prelink or not). A worker must never allocate, so the control side makes
    // the first call of every function of the packet loop, harmlessly, before any worker can.

    /// <summary>First calls of the mbuf functions, of usleep and of the TSC read, with the packet pool just created.</summary>
    internal static void BindMbufCalls(IntPtr pool)
    {
        IntPtr m;
        // SAFETY: one mbuf into a local, released at once; usleep(0) returns at once.
        if (vsw_pktmbuf_alloc_bulk(pool, &m, 1) == 0)
        {
            vsw_mbuf_refcnt_update(m, 0);
            rte_pktmbuf_free_bulk(&m, 1);
        }
        _ = usleep(0);
        _ = vsw_rdtsc();
    }

    /// <summary>First calls of the burst functions: zero-frame bursts on a started ethdev.</summary>
    internal static void BindEthdevBursts(ushort port)
    {
        IntPtr none = IntPtr.Zero;
        // SAFETY: a burst of 0 frames reads and writes no element of the array.
        _ = vsw_rx_burst(port, 0, &none, 0);
        _ = vsw_tx_burst(port, 0, &none, 0);
    }

    /// <summary>First calls of the vhost burst functions: zero-frame bursts on a device that is ready, before the workers may use it.</summary>
    internal static void BindVhostBursts(int vid, IntPtr pool)
    {
        IntPtr none = IntPtr.Zero;
        // SAFETY: a burst of 0 frames reads and writes no element of the array.
        _ = rte_vhost_dequeue_burst(vid, 1, pool, &none, 0);
        _ = rte_vhost_enqueue_burst(vid, 0, &none, 0);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        string[] candidates = name switch
        {
            ShimLibrary => [Path.Combine(AppContext.BaseDirectory, "libvswshim.so"), "libvswshim.so"],
            LibcLibrary => ["libc.so.6"],
            _ when name.StartsWith("rte_", StringComparison.Ordinal) => ["lib" + name + ".so", "lib" + name + ".so.23"],
            _ => [],
        };
        foreach (string candidate in candidates)
        {
            if (NativeLibrary.TryLoad(candidate, out IntPtr handle))
                return handle;
        }
        return IntPtr.Zero;
    }
}
