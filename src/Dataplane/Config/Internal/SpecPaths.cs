using VSwitch.Dataplane.Spec;

namespace VSwitch.Dataplane.Config.Internal;

/// <summary>
/// The field path of each tenant, port and VM of a SwitchSpec, for error messages. A spec keeps
/// its VMs in one flat list, where the file nests them under their tenant.
/// </summary>
internal sealed record SpecPaths(IReadOnlyList<string> Tenants, IReadOnlyList<string> Ports, IReadOnlyList<string> Vms, IReadOnlyList<string> RemoteVms)
{
    /// <summary>
    /// Paths as they would be in a file that holds the spec: a VM is "tenants[t].vms[j]" where t is
    /// the first tenant of its name and j counts that tenant's VMs in order; a VM whose tenant does
    /// not exist (only possible for a spec built at run time) is "vms[k]", its place in spec.Vms.
    /// </summary>
    public static SpecPaths For(SwitchSpec spec)
    {
        var tenantIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int t = 0; t < spec.Tenants.Length; t++)
            tenantIndex.TryAdd(spec.Tenants[t].Name, t);

        var vmsSoFar = new int[spec.Tenants.Length];
        var vms = new string[spec.Vms.Length];
        for (int k = 0; k < vms.Length; k++)
        {
            vms[k] = tenantIndex.TryGetValue(spec.Vms[k].Tenant, out int t)
                ? $"tenants[{t}].vms[{vmsSoFar[t]++}]"
                : $"vms[{k}]";
        }
        var remoteSoFar = new int[spec.Tenants.Length];
        var remoteVms = new string[spec.RemoteVms.Length];
        for (int k = 0; k < remoteVms.Length; k++)
        {
            remoteVms[k] = tenantIndex.TryGetValue(spec.RemoteVms[k].Tenant, out int t)
                ? $"tenants[{t}].remote_vms[{remoteSoFar[t]++}]"
                : $"remote_vms[{k}]";
        }
        return new SpecPaths(
            spec.Tenants.Select((_, t) => $"tenants[{t}]").ToArray(),
            spec.Ports.Select((_, i) => $"ports[{i}]").ToArray(),
            vms, remoteVms);
    }
}
