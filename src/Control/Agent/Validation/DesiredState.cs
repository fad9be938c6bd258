// Everything the agent has been asked to keep on this host. Rules are functions from one
// DesiredState to the next: a create or delete is checked against the whole state and returns
// the state after it, which the store writes in one transaction. A host holds tens to hundreds of
// resources, so reading all of them for each change costs nothing worth a cleverer scheme.
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Validation;

public sealed record DesiredState(
    IReadOnlyList<Tenant> Tenants,
    IReadOnlyList<Vm> Vms,
    IReadOnlyList<Volume> Volumes,
    IReadOnlyList<RemoteHost> Hosts,
    IReadOnlyList<RemoteVm> RemoteVms)
{
    public static DesiredState Empty { get; } = new([], [], [], [], []);
}
