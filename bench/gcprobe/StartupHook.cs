// bench/gcprobe: a .NET startup hook that bench/run loads into vswitchd
// (DOTNET_STARTUP_HOOKS=.../GcProbe.dll, VSW_GCPROBE_OUT=<file>) so that GC count and pause time
// during the measurement window can be reported without adding anything to vswitchd itself.
//
// A background thread, pinned to core 0 (the worker owns core 1), samples every 100 ms into a
// preallocated ring: CLOCK_MONOTONIC in ns (Stopwatch on Linux, the same clock as Python's
// time.monotonic_ns), collections per generation, total pause time and bytes allocated by the
// whole process. Sampling allocates nothing; the samples are written as CSV when the process
// exits normally (vswitchd on SIGTERM). The bench picks the samples that bracket the window.
using System.Diagnostics;
using System.Runtime.InteropServices;

internal static class StartupHook
{
    private const int Capacity = 6000; // 10 minutes at 10 Hz; older samples are overwritten
    private static readonly long[,] s_samples = new long[Capacity, 6];
    private static long s_count;

    public static void Initialize()
    {
        string? path = Environment.GetEnvironmentVariable("VSW_GCPROBE_OUT");
        if (string.IsNullOrEmpty(path))
            return;
        var thread = new Thread(Sample) { IsBackground = true, Name = "bench-gcprobe" };
        thread.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Write(path);
    }

    private static void Sample()
    {
        ulong core0 = 1;
        _ = sched_setaffinity(0, sizeof(ulong), ref core0);
        while (true)
        {
            long i = s_count % Capacity;
            s_samples[i, 0] = (long)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
            s_samples[i, 1] = GC.CollectionCount(0);
            s_samples[i, 2] = GC.CollectionCount(1);
            s_samples[i, 3] = GC.CollectionCount(2);
            s_samples[i, 4] = GC.GetTotalPauseDuration().Ticks * 100; // ticks are 100 ns
            s_samples[i, 5] = GC.GetTotalAllocatedBytes(precise: false);
            Volatile.Write(ref s_count, s_count + 1);
            Thread.Sleep(100);
        }
    }

    private static void Write(string path)
    {
        long count = Volatile.Read(ref s_count);
        using var w = new StreamWriter(path);
        w.WriteLine("mono_ns,gen0,gen1,gen2,pause_ns,allocated_bytes");
        for (long n = Math.Max(0, count - Capacity); n < count; n++)
        {
            long i = n % Capacity;
            w.WriteLine($"{s_samples[i, 0]},{s_samples[i, 1]},{s_samples[i, 2]},{s_samples[i, 3]},{s_samples[i, 4]},{s_samples[i, 5]}");
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_setaffinity(int pid, nuint size, ref ulong mask);
}
