// glibc calls that neither the BCL nor DPDK offer: pinning a thread to a core.
using System.Runtime.InteropServices;

namespace VSwitch.Dataplane.Interop;

internal static unsafe partial class Interop
{
    [LibraryImport(LibcLibrary, SetLastError = true)]
    internal static partial int sched_setaffinity(int pid, nuint cpusetsize, ulong* mask);

    [LibraryImport(LibcLibrary)]
    internal static partial int gettid();

    /// <summary>Sleeps in microseconds; Thread.Sleep rounds to whole milliseconds.</summary>
    [LibraryImport(LibcLibrary)]
    internal static partial int usleep(uint microseconds);

    /// <summary>Pins the calling thread to one core (sched_setaffinity(2) with pid 0 = this thread).</summary>
    internal static void PinCurrentThread(int core)
    {
        if ((uint)core >= 1024)
            throw new ArgumentOutOfRangeException(nameof(core), core, "core must be in 0..1023");
        // SAFETY: a cpu_set_t of 1024 bits (16 ulongs), zeroed, with one bit set below 1024 (checked above).
        ulong* mask = stackalloc ulong[16];
        new Span<ulong>(mask, 16).Clear();
        mask[core / 64] = 1UL << (core % 64);
        if (sched_setaffinity(0, 16 * sizeof(ulong), mask) != 0)
            throw new InvalidOperationException($"sched_setaffinity to core {core} failed: errno {Marshal.GetLastPInvokeError()}");
    }
}
