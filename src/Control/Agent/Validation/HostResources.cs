// What this host gives VMs (vswitch-agent run --cpus, --memory-mib, --vcpu-overcommit): memory is
// never overcommitted, since a guest touching memory the host lacks gets the host's OOM killer;
// vCPUs are threads and may be overcommitted, up to VcpuOvercommit per host CPU.
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Validation;

public sealed record HostResources(int Cpus, long MemoryMib, double VcpuOvercommit)
{
    /// <summary>The most vCPUs all VMs together may have: floor(Cpus × VcpuOvercommit).</summary>
    public long VcpuLimit => (long)Math.Floor(Cpus * VcpuOvercommit);

    /// <summary>What the VMs of <paramref name="state"/> take of this host.</summary>
    public Capacity Usage(DesiredState state) =>
        new(Cpus, MemoryMib, VcpuOvercommit, state.Vms.Sum(vm => vm.Vcpus), state.Vms.Sum(vm => (long)vm.MemoryMib));
}
