// A VM's create and delete (docs/agent.md, "VMs"). Fields are checked first, each alone (400);
// then against what exists (404, 409): its name among VMs and remote VMs, its tenant, the
// addresses its tenant's other VMs and remote VMs hold, its volumes, and what the host has left.
// A create attaches its volumes and a delete frees them, in the same state change, so a volume is
// never attached to a VM that does not exist.
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Validation;

public static class VmRules
{
    public const int MaxVcpus = 64;
    /// <summary>vmm's smallest guest (its E820 map's minimum): a VM the agent accepts must be one vmm boots.</summary>
    public const int MinMemoryMib = 64;
    /// <summary>vmm maps guest memory in 2 MiB units (huge pages, E820Map.MemoryAlignment).</summary>
    public const int MemoryAlignmentMib = 2;
    /// <summary>vmm's virtio-mmio slots, shared by NICs and disks (MachineConfig.MaxVirtioDevices).</summary>
    public const int MaxDevices = 8;
    /// <summary>1 TiB.</summary>
    public const int MaxMemoryMib = 1024 * 1024;
    /// <summary>cgroup v2 cpu.weight's range (Documentation/admin-guide/cgroup-v2.rst, "Weights").</summary>
    public const int MaxCpuWeight = 10_000;
    public const int MaxPrefix = 32;

    public static (DesiredState After, Vm Stored) Create(Vm? request, DesiredState state, HostResources host)
    {
        Vm vm = Fields.Required(request, "body");
        Fields.Name(vm.Name);
        Fields.Name(vm.Tenant, "tenant");
        Fields.InRange(vm.Vcpus, 1, MaxVcpus, "vcpus");
        Fields.InRange(vm.MemoryMib, MinMemoryMib, MaxMemoryMib, "memory_mib");
        if (vm.MemoryMib % MemoryAlignmentMib != 0)
            throw Refusal.Malformed("memory_mib", $"{vm.MemoryMib} is not a multiple of {MemoryAlignmentMib}");
        Fields.ExistingFile(vm.Kernel, "kernel");
        if (vm.Initramfs is not null)
            Fields.ExistingFile(vm.Initramfs, "initramfs");
        CheckCpu(vm.CpuWeight, vm.CpuMaxPercent, vm.Vcpus);
        CheckPower(vm.Power, "power");
        vm = vm with { Nics = CheckNics(vm.Nics ?? []), Volumes = CheckVolumeNames(vm.Volumes ?? []) };
        if (vm.Nics!.Count + vm.Volumes!.Count > MaxDevices)
            throw Refusal.Malformed("nics", $"{vm.Nics.Count} NICs and {vm.Volumes.Count} volumes: a VM has {MaxDevices} device slots for both");

        Kinds.Vm.ThrowIfTaken(vm.Name, state);
        // A VM is in one place: a name both here and on another host is one registration too many.
        Kinds.RemoteVm.ThrowIfTaken(vm.Name, state);
        Kinds.Tenant.Find(vm.Tenant, state, "tenant");
        TenantAddresses.ThrowIfHeld(vm.Nics!.SelectMany((nic, i) => TenantAddresses.Claims(nic.Mac, nic.Ipv4, $"nics[{i}].")), vm.Tenant, state);
        for (int i = 0; i < vm.Volumes!.Count; i++)
        {
            Volume volume = Kinds.Volume.Find(vm.Volumes[i], state, $"volumes[{i}]");
            if (volume.Vm is not null)
                throw Refusal.Conflict($"volumes[{i}]", $"volume '{volume.Name}' is attached to VM '{volume.Vm}'");
        }
        ThrowIfBeyondHost(vm, state, host);

        return (state with
        {
            Vms = [.. state.Vms, vm],
            Volumes = [.. state.Volumes.Select(v => vm.Volumes.Contains(v.Name) ? v with { Vm = vm.Name } : v)],
        }, vm);
    }

    /// <summary>Deletes the VM and frees its volumes.</summary>
    public static DesiredState Delete(string name, DesiredState state)
    {
        Vm vm = Kinds.Vm.Find(name, state);
        return state with
        {
            Vms = [.. state.Vms.Where(v => v != vm)],
            Volumes = [.. state.Volumes.Select(v => v.Vm == name ? v with { Vm = null } : v)],
        };
    }

    /// <summary>Replaces VM <paramref name="name"/>'s CPU weight and cap; the running VM's cgroup follows at the next pass.</summary>
    public static (DesiredState After, Vm Stored) SetCpu(string name, VmCpu? request, DesiredState state)
    {
        VmCpu cpu = Fields.Required(request, "body");
        Vm vm = Kinds.Vm.Find(name, state);
        CheckCpu(cpu.CpuWeight, cpu.CpuMaxPercent, vm.Vcpus);
        Vm changed = vm with { CpuWeight = cpu.CpuWeight, CpuMaxPercent = cpu.CpuMaxPercent };
        return (state with { Vms = [.. state.Vms.Select(v => v == vm ? changed : v)] }, changed);
    }

    /// <summary>
    /// Sets VM <paramref name="name"/>'s power state; the next pass starts, stops, pauses or
    /// resumes its vmm. A stopped VM cannot be paused: there is no vmm to pause (409).
    /// </summary>
    public static (DesiredState After, Vm Stored) SetPower(string name, VmPower? request, DesiredState state)
    {
        VmPower power = Fields.Required(request, "body");
        Vm vm = Kinds.Vm.Find(name, state);
        CheckPower(power.State, "state");
        if (power.State == PowerStates.Paused && vm.Power == PowerStates.Stopped)
            throw Refusal.Conflict("state", $"VM '{name}' is stopped: start it (state \"running\") before pausing it");
        if (power.State == vm.Power)
            return (state, vm);
        Vm changed = vm with { Power = power.State };
        return (state with { Vms = [.. state.Vms.Select(v => v == vm ? changed : v)] }, changed);
    }

    private static void CheckPower(string? power, string field)
    {
        if (!PowerStates.All.Contains(Fields.Required(power, field)))
            throw Refusal.Malformed(field, $"'{power}' is not a power state; one of: {string.Join(", ", PowerStates.All)}");
    }

    private static void CheckCpu(int weight, int? maxPercent, int vcpus)
    {
        Fields.InRange(weight, 1, MaxCpuWeight, "cpu_weight");
        if (maxPercent is int cap)
            Fields.InRange(cap, 1, 100L * vcpus, "cpu_max_percent");
    }

    /// <summary>Each NIC's fields, MACs in canonical form; no MAC or address twice within the VM.</summary>
    private static Nic[] CheckNics(IReadOnlyList<Nic> nics)
    {
        var seen = new Dictionary<string, string>();
        var checkedNics = new Nic[nics.Count];
        for (int i = 0; i < nics.Count; i++)
        {
            string field = $"nics[{i}]";
            Nic nic = Fields.Required(nics[i], field);
            (string mac, IReadOnlyList<string> addresses) = TenantAddresses.Check(nic.Mac, nic.Ipv4, $"{field}.", seen);
            Fields.InRange(nic.Prefix, 1, MaxPrefix, $"{field}.prefix");
            checkedNics[i] = nic with { Mac = mac, Ipv4 = addresses };
        }
        return checkedNics;
    }

    private static string[] CheckVolumeNames(IReadOnlyList<string> volumes)
    {
        var seen = new Dictionary<string, string>();
        for (int i = 0; i < volumes.Count; i++)
            Fields.Once(seen, Fields.Name(volumes[i], $"volumes[{i}]"), $"volumes[{i}]");
        return [.. volumes];
    }

    /// <summary>Memory is never overcommitted; vCPUs up to the host's limit (HostResources).</summary>
    private static void ThrowIfBeyondHost(Vm vm, DesiredState state, HostResources host)
    {
        Capacity used = host.Usage(state);
        long memoryLeft = host.MemoryMib - used.MemoryMibUsed;
        if (vm.MemoryMib > memoryLeft)
        {
            throw Refusal.Conflict("memory_mib",
                $"{vm.MemoryMib} MiB asked, but the host has {Math.Max(memoryLeft, 0)} MiB left of {host.MemoryMib} MiB for VMs");
        }
        long vcpusLeft = host.VcpuLimit - used.VcpusUsed;
        if (vm.Vcpus > vcpusLeft)
        {
            throw Refusal.Conflict("vcpus",
                $"{vm.Vcpus} vCPUs asked, but the host has {Math.Max(vcpusLeft, 0)} left of {host.VcpuLimit} ({host.Cpus} CPUs × {host.VcpuOvercommit} overcommit)");
        }
    }
}
