// One kind of resource (tenant, VM, volume, remote host, remote VM) as the store and the HTTP
// routes see it: its name in messages and in the store, where its resources are in a
// DesiredState, and the rules of its create and delete. The rules live in <Kind>Rules.cs; this
// record lets the store and the routes treat the kinds alike instead of repeating themselves.
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Validation;

/// <param name="Noun">"tenant": how messages name one.</param>
/// <param name="Plural">"tenants": the store's table of them.</param>
/// <param name="Create">Checks a create request against the state; returns the state after it and the resource as stored.</param>
/// <param name="Delete">Checks a delete against the state; returns the state after it.</param>
public sealed record Kind<T>(
    string Noun,
    string Plural,
    Func<T, string> NameOf,
    Func<DesiredState, IReadOnlyList<T>> In,
    Func<T?, DesiredState, HostResources, (DesiredState After, T Stored)> Create,
    Func<string, DesiredState, DesiredState> Delete)
    where T : class
{
    /// <summary>The resource named <paramref name="name"/> in <paramref name="state"/>; 404 if there is none.</summary>
    public T Find(string name, DesiredState state, string field = "name") =>
        In(state).FirstOrDefault(resource => NameOf(resource) == name) ?? throw Refusal.Missing(field, $"no {Noun} named '{name}'");

    /// <summary>Refuses <paramref name="name"/> if another resource of this kind has it (409).</summary>
    public void ThrowIfTaken(string name, DesiredState state)
    {
        if (In(state).Any(resource => NameOf(resource) == name))
            throw Refusal.Conflict("name", $"a {Noun} named '{name}' already exists");
    }

    /// <summary>
    /// Refuses a value that must be unique among this kind (a VNI, a VTEP) if another resource
    /// holds it: 409 on <paramref name="field"/>, naming the holder.
    /// </summary>
    /// <param name="what">The value as the message shows it: "VNI 100".</param>
    public void ThrowIfHeld<TValue>(string field, TValue value, Func<T, TValue> of, DesiredState state, string what)
    {
        if (In(state).FirstOrDefault(resource => EqualityComparer<TValue>.Default.Equals(of(resource), value)) is { } holder)
            throw Refusal.Conflict(field, $"{what} is already taken by {Noun} '{NameOf(holder)}'");
    }

    /// <summary>
    /// Refuses the delete of <paramref name="used"/> ("tenant 'blue'") while resources of this
    /// kind still refer to it: 409 on name, naming them.
    /// </summary>
    public void ThrowIfInUse(Func<T, bool> uses, DesiredState state, string used)
    {
        string[] users = [.. In(state).Where(uses).Select(NameOf)];
        if (users.Length > 0)
            throw Refusal.Conflict("name", $"{used} still has {users.Length} {Noun}(s): {string.Join(", ", users)}; delete them first");
    }
}

public static class Kinds
{
    public static Kind<Tenant> Tenant { get; } = new("tenant", "tenants", t => t.Name, s => s.Tenants,
        (request, state, _) => TenantRules.Create(request, state), TenantRules.Delete);

    public static Kind<Vm> Vm { get; } = new("VM", "vms", vm => vm.Name, s => s.Vms,
        VmRules.Create, VmRules.Delete);

    public static Kind<Volume> Volume { get; } = new("volume", "volumes", v => v.Name, s => s.Volumes,
        (request, state, _) => VolumeRules.Create(request, state), VolumeRules.Delete);

    public static Kind<RemoteHost> Host { get; } = new("remote host", "hosts", h => h.Name, s => s.Hosts,
        (request, state, _) => RemoteHostRules.Create(request, state), RemoteHostRules.Delete);

    public static Kind<RemoteVm> RemoteVm { get; } = new("remote VM", "remote_vms", vm => vm.Name, s => s.RemoteVms,
        (request, state, _) => RemoteVmRules.Create(request, state), RemoteVmRules.Delete);
}
