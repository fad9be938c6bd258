// A tenant's create and delete (docs/agent.md, "Tenants"): its VNI carries its frames between
// hosts (RFC 7348 5, RFC 8926 3.4), so two tenants with one VNI would see each other's traffic.
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Validation;

public static class TenantRules
{
    /// <summary>The largest 24-bit VNI; 0 is left unused, as most VTEPs treat it as "none".</summary>
    public const uint MaxVni = 0xFF_FFFF;

    public static (DesiredState After, Tenant Stored) Create(Tenant? request, DesiredState state)
    {
        Tenant tenant = Fields.Required(request, "body");
        Fields.Name(tenant.Name);
        Fields.InRange(tenant.Vni, 1, MaxVni, "vni");
        Kinds.Tenant.ThrowIfTaken(tenant.Name, state);
        Kinds.Tenant.ThrowIfHeld("vni", tenant.Vni, t => t.Vni, state, $"VNI {tenant.Vni}");
        return (state with { Tenants = [.. state.Tenants, tenant] }, tenant);
    }

    /// <summary>Refused while the tenant has VMs or remote VMs: deleting it would leave them on no network.</summary>
    public static DesiredState Delete(string name, DesiredState state)
    {
        Tenant tenant = Kinds.Tenant.Find(name, state);
        Kinds.Vm.ThrowIfInUse(vm => vm.Tenant == name, state, $"tenant '{name}'");
        Kinds.RemoteVm.ThrowIfInUse(vm => vm.Tenant == name, state, $"tenant '{name}'");
        return state with { Tenants = [.. state.Tenants.Where(t => t != tenant)] };
    }
}
