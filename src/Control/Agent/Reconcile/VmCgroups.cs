// Each VM's vmm in a cgroup v2 group of its own (docs/agent.md, "CPU"), so the kernel's
// scheduler gives the VMs the shares the desired state asks (Documentation/admin-guide/
// cgroup-v2.rst, "CPU" and "Cpuset"):
//
//   /sys/fs/cgroup/vswitch             vmm.cgroup: cpuset.cpus = the VMs' CPUs, away from the
//                                      dataplane's poll-mode cores, which would otherwise take
//                                      a vCPU's whole time slice from it; cpu.weight = the sum
//                                      of its VMs' weights, so that under contention each VM
//                                      weighs against the host's own services as one of them
//                                      does (systemd's default weight is 100, a VM's too), and
//                                      a host's VMs together are not squeezed into the share
//                                      of a single service
//   /sys/fs/cgroup/vswitch/web         VM web: cpu.weight = cpu_weight, cpu.max = cpu_max_percent
//
// vmm joins its group itself before its VM exists (vmm run --cgroup, from the spec), so no
// vCPU thread ever runs outside it and no race with the supervisor's spawn is left. A group is
// written only where it differs, every pass, so a value changed by hand is put back; a deleted
// VM's group is removed once its vmm has left it (rmdir refuses a group with processes).
using System.Globalization;
using VSwitch.Common.Cgroups;
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Reconcile;

public sealed class VmCgroups(string root, IReadOnlyList<int> cpus)
{
    /// <summary>cpu.max's period: the kernel's default, 100 ms; a cap is a share of each.</summary>
    public const int PeriodUs = 100_000;

    private static readonly string[] s_controllers = ["cpu", "cpuset"];

    /// <summary>Makes <c>vmm.cgroup</c>, limited to the VMs' CPUs and weighing what <paramref name="vms"/> weigh together, with the cpu and cpuset controllers for its VMs.</summary>
    /// <exception cref="CgroupException">The host has no cgroup v2 group there offering both controllers, or refuses a write.</exception>
    public void Prepare(IEnumerable<Vm> vms)
    {
        string parent = Path.GetDirectoryName(root)!;
        IReadOnlySet<string> offered = Cgroup.Controllers(parent);
        if (!s_controllers.All(offered.Contains))
        {
            throw new CgroupException($"{parent} is not a cgroup v2 group offering the cpu and cpuset controllers (its cgroup.controllers: " +
                $"'{string.Join(' ', offered.Order())}'): mount cgroup2 on {Cgroup.Mount} (systemd does, booted with " +
                "systemd.unified_cgroup_hierarchy=1), or set vmm.cgroup to null in the host settings to run VMs without CPU control");
        }
        Cgroup.EnableForChildren(parent, s_controllers);
        Directory.CreateDirectory(root);
        Cgroup.Set(root, "cpuset.cpus", CpuList(cpus));
        Cgroup.Set(root, "cpu.weight", GroupWeight(vms).ToString(CultureInfo.InvariantCulture));
        Cgroup.EnableForChildren(root, s_controllers);
    }

    /// <summary>The VMs' group's cpu.weight: the sum of the weights of the VMs that run (stopped ones have no vmm), within cgroup v2's 1..10000; 100 for none.</summary>
    public static int GroupWeight(IEnumerable<Vm> vms)
    {
        long sum = vms.Where(vm => vm.Power != PowerStates.Stopped).Sum(vm => (long)vm.CpuWeight);
        return sum == 0 ? DefaultWeight : (int)Math.Min(sum, VmRules.MaxCpuWeight);
    }

    /// <summary>cgroup v2's default cpu.weight (Documentation/admin-guide/cgroup-v2.rst, "Weights").</summary>
    private const int DefaultWeight = 100;

    /// <summary>Makes <paramref name="vm"/>'s group and gives it its weight and cap.</summary>
    /// <exception cref="CgroupException">A write is refused.</exception>
    public void Apply(Vm vm, string group)
    {
        Directory.CreateDirectory(group);
        Cgroup.Set(group, "cpu.weight", vm.CpuWeight.ToString(CultureInfo.InvariantCulture));
        Cgroup.Set(group, "cpu.max", CpuMax(vm.CpuMaxPercent));
    }

    /// <summary>Removes the groups under the root that no VM of <paramref name="groups"/> has, those no process is left in.</summary>
    public void RemoveOthers(IReadOnlySet<string> groups)
    {
        if (!Directory.Exists(root))
            return;
        foreach (string group in Directory.EnumerateDirectories(root).Where(g => !groups.Contains(g)))
        {
            try
            {
                Directory.Delete(group); // rmdir(2): a cgroup's interface files go with it
            }
            catch (IOException)
            {
                // EBUSY: its vmm has not exited yet; the next pass removes it.
            }
        }
    }

    /// <summary>cpu.max for a cap of <paramref name="percent"/> % of one CPU: "QUOTA PERIOD", or "max PERIOD" for none.</summary>
    public static string CpuMax(int? percent) =>
        percent is { } p ? $"{p * (PeriodUs / 100)} {PeriodUs}" : $"max {PeriodUs}";

    /// <summary>A CPU list as cpuset.cpus and /sys/devices/system/cpu/online write it: "0-3,6".</summary>
    public static string CpuList(IEnumerable<int> cpus)
    {
        var ranges = new List<string>();
        int[] sorted = [.. cpus.Distinct().Order()];
        for (int i = 0; i < sorted.Length;)
        {
            int j = i;
            while (j + 1 < sorted.Length && sorted[j + 1] == sorted[j] + 1)
                j++;
            ranges.Add(i == j ? $"{sorted[i]}" : $"{sorted[i]}-{sorted[j]}");
            i = j + 1;
        }
        return string.Join(',', ranges);
    }

    /// <summary>Parses a CPU list ("0-3,6"); throws FormatException on anything else.</summary>
    public static IReadOnlyList<int> ParseCpuList(string text)
    {
        var cpus = new List<int>();
        foreach (string part in text.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] ends = part.Split('-');
            int first = int.Parse(ends[0], NumberStyles.None, CultureInfo.InvariantCulture);
            int last = ends.Length == 2 ? int.Parse(ends[1], NumberStyles.None, CultureInfo.InvariantCulture) : first;
            if (ends.Length > 2 || last < first)
                throw new FormatException($"'{part}' is not a CPU or a range of CPUs");
            for (int cpu = first; cpu <= last; cpu++)
                cpus.Add(cpu);
        }
        return cpus;
    }

    /// <summary>
    /// The CPUs for VMs: <paramref name="chosen"/> if the host settings name them, else every
    /// online CPU but vswitchd's worker cores, which poll without pause; every online CPU when
    /// that leaves none (a one-CPU host shares it, and vswitchd should sleep when idle there).
    /// </summary>
    public static IReadOnlyList<int> VmCpus(IReadOnlyList<int>? chosen, IReadOnlyList<int> online, IReadOnlyList<int> workerCores)
    {
        if (chosen is not null)
            return chosen;
        int[] away = [.. online.Except(workerCores)];
        return away.Length > 0 ? away : online;
    }
}
