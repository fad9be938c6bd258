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

    /// <summary>Binds every function of this class to its library now (the libraries must load: EAL is up).</summary>
    internal static void BindAll() => Marshal.PrelinkAll(typeof(Interop));

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
