// The default of --memory-mib: the host's memory less what the host itself needs (docs/agent.md,
// "Running it"). The reserve is the larger of 1 GiB and a tenth of the memory: the kernel, the
// page cache the VMs' volumes go through, vswitchd (its mbuf pool's huge pages are counted in
// MemTotal), the agent and one vmm process per VM, which all grow with the host.
using System.Globalization;

namespace VSwitch.Control.Agent.Cli;

public static class HostMemory
{
    public const long MinReserveMib = 1024;
    public const int ReservePercent = 10;

    /// <summary>MemTotal of /proc/meminfo (proc(5)) in MiB.</summary>
    /// <exception cref="InvalidDataException">The file has no MemTotal line.</exception>
    public static long TotalMib(string meminfo = "/proc/meminfo")
    {
        foreach (string line in File.ReadLines(meminfo))
        {
            string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields is ["MemTotal:", string kib, "kB"])
                return long.Parse(kib, CultureInfo.InvariantCulture) / 1024;
        }
        throw new InvalidDataException($"{meminfo} has no 'MemTotal: N kB' line");
    }

    /// <summary>What VMs may have of <paramref name="totalMib"/>: all but the reserve, never below 0.</summary>
    public static long ForVms(long totalMib) => Math.Max(0, totalMib - Math.Max(MinReserveMib, totalMib * ReservePercent / 100));
}
