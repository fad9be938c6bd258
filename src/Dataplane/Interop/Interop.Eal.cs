// DPDK EAL (lib/eal/include/rte_eal.h, rte_lcore.h, rte_errno.h): exported functions.
using System.Runtime.InteropServices;

namespace VSwitch.Dataplane.Interop;

internal static unsafe partial class Interop
{
    [LibraryImport(EalLibrary)]
    internal static partial int rte_eal_init(int argc, byte** argv);

    [LibraryImport(EalLibrary)]
    internal static partial int rte_eal_cleanup();

    [LibraryImport(EalLibrary)]
    internal static partial int rte_thread_register();

    [LibraryImport(EalLibrary)]
    internal static partial void rte_thread_unregister();

    [LibraryImport(EalLibrary)]
    internal static partial int* __rte_errno();

    [LibraryImport(EalLibrary)]
    internal static partial byte* rte_strerror(int errnum);

    [LibraryImport(EalLibrary)]
    internal static partial int rte_socket_id();

    [LibraryImport(EalLibrary)]
    internal static partial ulong rte_get_tsc_hz();

    internal static int RteErrno => *__rte_errno();

    internal static string RteStrError(int errnum) => Marshal.PtrToStringUTF8((IntPtr)rte_strerror(errnum)) ?? $"error {errnum}";
}
