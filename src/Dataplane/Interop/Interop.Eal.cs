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

    // SAFETY: __rte_errno returns the calling thread's own errno variable (per-lcore TLS), valid for the thread's life.
    internal static int RteErrno => *__rte_errno();

    /// <summary>
    /// rte_eal_init with <paramref name="args"/> as argv (args[0] the program name). DPDK keeps
    /// pointers into argv after init (it permutes it and remembers option strings), so the
    /// strings are copied to native memory that lives for the life of the process.
    /// </summary>
    internal static int EalInit(IReadOnlyList<string> args)
    {
        // SAFETY: argc + 1 pointers, the last left null as C's argv requires; each points to a
        // NUL-terminated UTF-8 copy that is never freed, since DPDK may read it at any time.
        byte** argv = (byte**)NativeMemory.AllocZeroed((nuint)(args.Count + 1), (nuint)sizeof(byte*));
        for (int i = 0; i < args.Count; i++)
            argv[i] = (byte*)Marshal.StringToCoTaskMemUTF8(args[i]);
        return rte_eal_init(args.Count, argv);
    }

    // SAFETY: rte_strerror returns a NUL-terminated string, static or in the calling thread's buffer, copied here at once.
    internal static string RteStrError(int errnum) => Marshal.PtrToStringUTF8((IntPtr)rte_strerror(errnum)) ?? $"error {errnum}";
}
