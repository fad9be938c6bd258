// One vmm process per VM of the desired state (docs/agent.md, "VMs and volumes"). Each pass:
//   1. brings the VMs' volumes into the host's pool (PoolVolumes) and their cgroups to their CPU
//      weight and cap (VmCgroups);
//   2. compiles each VM's spec (VmmPlan) and writes it to RuntimePaths.VmmSpec if its text changed;
//   3. answers the supervisor children `vmm run --spec PATH`, one per VM that is not stopped,
//      named "vmm-" + the VM's name, each carrying a digest of its spec, so a VM deleted and
//      created again with other settings restarts while an unchanged one is left running.
// A VM whose volumes or spec cannot be made ready keeps the child it had, or the spec file an
// earlier agent left for it (a passing pool error must not stop a running guest), and is not
// started when it had neither; the pass reports why.
// vmm listens on each NIC's vhost-user socket and vswitchd connects (HostSettings.VhostUserMode),
// so a VM and vswitchd start, die and restart in any order without being told of each other.
using System.Security.Cryptography;
using System.Text;
using VSwitch.Common.Cgroups;
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Supervision;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Reconcile;

public sealed class VmmChildren(ReconcileSettings settings, string vmmBinary)
{
    /// <summary>A VM's child is "vmm-" + its name: its log is LOG_DIR/vmm-NAME.log (the guest's serial console among it).</summary>
    public const string ChildPrefix = "vmm-";

    /// <summary>
    /// SIGTERM to vmm presses the guest's ACPI power button and stops the VM hard 30 s later if
    /// it has not powered off (docs/vmm.md, "Stopping a VM"); SIGKILL comes only after that, so a
    /// guest that takes its time still flushes its disks.
    /// </summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(45);

    /// <summary>The environment variable of a vmm child's spec that holds its spec file's digest; vmm ignores it.</summary>
    public const string FingerprintVariable = "VSWITCH_AGENT_VMM_SPEC";

    private readonly Dictionary<string, ChildSpec> _children = new(StringComparer.Ordinal);
    private readonly VmCgroups? _cgroups = settings.Host.Vmm.Cgroup is { } root
        ? new VmCgroups(root, VmCgroups.VmCpus(settings.Host.Vmm.Cpus, OnlineCpus(), settings.Host.Vswitchd.EffectiveWorkerCores))
        : null;

    private RuntimePaths Paths => settings.Host.Paths;

    public static string ChildName(string vm) => ChildPrefix + vm;

    /// <summary>The vmm children the supervisor should run now, and why each VM left out or kept as it was is not ready.</summary>
    public (IReadOnlyList<ChildSpec> Children, IReadOnlyList<string> Problems) Plan(DesiredState state)
    {
        Directory.CreateDirectory(Paths.VmmDirectory);
        IReadOnlyDictionary<string, string> volumeProblems = PoolVolumes.Converge(state, settings.Host);
        string? cgroupProblem = null;
        try
        {
            _cgroups?.Prepare(state.Vms);
        }
        catch (CgroupException e)
        {
            cgroupProblem = $"vmm.cgroup: {e.Message}";
        }
        var problems = new List<string>();
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (Vm vm in state.Vms)
        {
            wanted.Add(vm.Name);
            string? problem = volumeProblems.GetValueOrDefault(vm.Name) ?? cgroupProblem;
            if (problem is null)
            {
                try
                {
                    if (settings.Host.Vmm.CgroupOf(vm.Name) is { } group)
                        _cgroups!.Apply(vm, group);
                    string spec = VmmPlan.Compile(vm, state, settings.Host);
                    RuntimeFile.Replace(Paths.VmmSpec(vm.Name), spec);
                    _children[vm.Name] = Spec(vm.Name, spec);
                }
                catch (Exception e) when (e is PlanException or CgroupException)
                {
                    problem = e.Message;
                }
            }
            // The spec an earlier agent started this VM with, if it is still there: the child it had
            // before this agent, which must not be stopped for a problem of the moment.
            if (problem is not null && !_children.ContainsKey(vm.Name) && File.Exists(Paths.VmmSpec(vm.Name)))
                _children[vm.Name] = Spec(vm.Name, File.ReadAllText(Paths.VmmSpec(vm.Name)));
            // A stopped VM keeps its volumes, group and spec, so a start is only a new child.
            if (vm.Power == PowerStates.Stopped)
                _children.Remove(vm.Name);
            if (problem is not null)
                problems.Add($"VM '{vm.Name}': {problem}{(_children.ContainsKey(vm.Name) ? " (its vmm keeps running as it was)" : " (not started)")}");
        }
        foreach (string gone in _children.Keys.Where(name => !wanted.Contains(name)).ToList())
            _children.Remove(gone);
        // Spec files of VMs deleted, this agent's or an earlier one's: vmm read its own at start.
        var specs = new HashSet<string>(wanted.Select(Paths.VmmSpec), StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(Paths.VmmDirectory, "*.json").Where(f => !specs.Contains(f)))
            File.Delete(file);
        if (cgroupProblem is null)
            _cgroups?.RemoveOthers(wanted.Select(vm => settings.Host.Vmm.CgroupOf(vm)!).ToHashSet(StringComparer.Ordinal));
        return ([.. _children.Values], problems);
    }

    /// <summary>The host's online CPUs (/sys/devices/system/cpu/online); CPU 0 alone when it cannot be read.</summary>
    private static IReadOnlyList<int> OnlineCpus()
    {
        try
        {
            return VmCgroups.ParseCpuList(File.ReadAllText("/sys/devices/system/cpu/online"));
        }
        catch (Exception e) when (e is IOException or FormatException or OverflowException)
        {
            return [0];
        }
    }

    private ChildSpec Spec(string vm, string spec)
    {
        string digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(spec)))[..16];
        return new ChildSpec(ChildName(vm), vmmBinary, ["run", "--spec", Paths.VmmSpec(vm)],
            ChildEnvironment.For(FingerprintVariable, digest), Paths.VmmDirectory) { StopTimeout = StopTimeout };
    }
}
