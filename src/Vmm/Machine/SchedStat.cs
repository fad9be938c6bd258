// The host scheduler's view of one of the VMM's threads: /proc/self/task/<tid>/schedstat
// (Documentation/scheduler/sched-stats.rst, "/proc/<pid>/schedstat"): time on a CPU, time
// spent waiting on a runqueue (sched_info.run_delay), and timeslices, in nanoseconds. For a vCPU
// thread the second field is what KVM adds to the guest's steal time (Cpu/KvmParavirtFeatures.cs),
// so the host and the guest see the same figure. The file exists only on a kernel built with
// CONFIG_SCHED_INFO; a metric read from it must not fail the metrics reply, so every read here
// answers null instead of throwing.
using System.Globalization;

namespace VSwitch.Vmm.Machine;

public static class SchedStat
{
    /// <summary>Time thread <paramref name="tid"/> of this process has waited for a CPU while runnable; null without a readable, well-formed schedstat.</summary>
    public static TimeSpan? RunDelay(int tid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/self/task/{tid}/schedstat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // no CONFIG_SCHED_INFO, or the thread has ended
        }
        return ParseRunDelay(text);
    }

    /// <summary>The run delay in a schedstat line ("exec_ns run_delay_ns timeslices", more fields allowed); null if it is not one.</summary>
    public static TimeSpan? ParseRunDelay(string line)
    {
        string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 3)
            return null;
        var values = new ulong[3];
        for (int i = 0; i < values.Length; i++)
        {
            if (!ulong.TryParse(fields[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]))
                return null;
        }
        // 2^64 ns is 584 years, and in 100 ns ticks it fits a TimeSpan.
        return TimeSpan.FromTicks((long)(values[1] / 100));
    }
}
