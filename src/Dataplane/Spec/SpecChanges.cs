// The run-time changes to a tenant's VMs (the control socket's add-vm and remove-vm) as pure
// functions from one spec to the next, so the daemon only validates and publishes the result.
// A tenant lives as long as it has a VM on this host: add-vm creates it, and removing its last
// VM removes it with everything that hangs off it (its VNI, its remote VMs and so the tunnels
// toward their hosts). Its index in Tenants is then free again, and the next snapshot, compiled
// whole from the spec, holds nothing of it for a tenant that takes the index over.
using System.Collections.Immutable;

namespace VSwitch.Dataplane.Spec;

public static class SpecChanges
{
    /// <summary>Binds <paramref name="vm"/>; creates its tenant (with <paramref name="vni"/>) when there is none of that name.</summary>
    public static SwitchSpec AddVm(SwitchSpec spec, VmSpec vm, uint? vni)
    {
        SwitchSpec next = spec with { Vms = spec.Vms.Add(vm) };
        return spec.Tenants.Any(t => t.Name == vm.Tenant)
            ? next
            : next with { Tenants = next.Tenants.Add(new TenantSpec(vm.Tenant, vni)) };
    }

    /// <summary>Unbinds <paramref name="vm"/>; with the tenant's last VM, the tenant and its remote VMs go too.</summary>
    public static SwitchSpec RemoveVm(SwitchSpec spec, VmSpec vm)
    {
        SwitchSpec next = spec with { Vms = spec.Vms.Remove(vm) };
        if (next.Vms.Any(v => v.Tenant == vm.Tenant))
            return next;
        return next with
        {
            Tenants = next.Tenants.RemoveAll(t => t.Name == vm.Tenant),
            RemoteVms = next.RemoteVms.RemoveAll(r => r.Tenant == vm.Tenant),
        };
    }
}
