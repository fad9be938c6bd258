// A remote VM's create and delete (docs/agent.md, "RemoteVm"): a VM of a tenant that runs on
// a remote host, which this host's vswitchd reaches through the overlay. The agent holds only what
// vswitchd needs of it: the tenant, the host, and the MAC and addresses its frames may come from,
// which share the tenant's addresses with this host's VMs' NICs (TenantAddresses). The desired
// state is the same whatever the host: a remote VM is stored on a host without an uplink too,
// where the reconcile loop reports it as not programmed (VswitchdPlan.Unserved).
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Validation;

public static class RemoteVmRules
{
    public static (DesiredState After, RemoteVm Stored) Create(RemoteVm? request, DesiredState state)
    {
        RemoteVm vm = Fields.Required(request, "body");
        Fields.Name(vm.Name);
        Fields.Name(vm.Tenant, "tenant");
        Fields.Name(vm.Host, "host");
        (string mac, IReadOnlyList<string> ipv4) = TenantAddresses.Check(vm.Mac, vm.Ipv4, "", []);
        vm = vm with { Mac = mac, Ipv4 = ipv4 };

        Kinds.RemoteVm.ThrowIfTaken(vm.Name, state);
        // A VM is in one place: a name both here and on another host is one registration too many.
        Kinds.Vm.ThrowIfTaken(vm.Name, state);
        Kinds.Tenant.Find(vm.Tenant, state, "tenant");
        Kinds.Host.Find(vm.Host, state, "host");
        TenantAddresses.ThrowIfHeld(TenantAddresses.Claims(mac, ipv4, ""), vm.Tenant, state);
        return (state with { RemoteVms = [.. state.RemoteVms, vm] }, vm);
    }

    public static DesiredState Delete(string name, DesiredState state)
    {
        RemoteVm vm = Kinds.RemoteVm.Find(name, state);
        return state with { RemoteVms = [.. state.RemoteVms.Where(v => v != vm)] };
    }
}
