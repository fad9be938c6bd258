// What must change in a running vswitchd for it to serve the plan (VswitchdPlan.Build): the
// control ops (docs/control-socket.md) that turn what vswitchd reports (its `list` reply) into the
// plan's VM ports and VMs, or, for what no op can change, a reason to restart it. Pure: the same
// plan and reply give the same ops, so the loop can compare again after each attempt instead of
// remembering what it sent, and a vswitchd restarted from an older file, or left half-changed by
// a failed attempt, converges the same way.
//
// Split of the work (docs/agent.md, "Reconcile"):
// - Live: VM ports (add-port, remove-port), VMs (add-vm, remove-vm) and remote VMs
//   (add-remote-vm, remove-remote-vm). A VM whose port must change is removed and added again,
//   since vswitchd refuses to remove a port a VM is bound to. A remote VM needs its tenant to
//   exist (add-remote-vm refuses it otherwise), and goes with it when vswitchd drops the tenant
//   with its last VM: so remote VMs are removed first, before a remove-vm can take them, and
//   added last, after add-vm has made their tenant; those of a tenant whose VMs are all removed
//   and added again are removed and added again with them. The plan lists a tenant's remote VMs
//   only while it has a VM here (VswitchdPlan), so every remote VM it wants has its tenant.
// - Restart, through the child's spec (StaticFingerprint): everything vswitchd has no op for
//   (DPDK, workers, the control section, the uplink, the overlay and its remote hosts). `list`
//   does not report the overlay, so those are compared by the file they come from, not live.
// - Tenants: vswitchd creates a tenant with its first VM (add-vm's vni) and drops it with its
//   last. A tenant whose VNI differs has its VMs removed and added again, which recreates it with
//   the plan's VNI; only a tenant vswitchd holds without any VM (one its file listed empty) cannot
//   be recreated live, and then vswitchd is restarted on the file, which has the right VNI.
// Only the fields the plan sets are compared: the others (ipv6, flood rates, queues) are
// vswitchd's defaults on both sides.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace VSwitch.Control.Agent.Reconcile;

/// <param name="Ops">Control requests to send in order: removals (remote VMs, VMs, ports), then additions (ports, VMs, remote VMs).</param>
/// <param name="Restart">Why vswitchd must be restarted on its file instead; null when the ops suffice.</param>
public sealed record VswitchdChanges(IReadOnlyList<JsonObject> Ops, string? Restart)
{
    public bool None => Ops.Count == 0 && Restart is null;
}

public static class VswitchdDiff
{
    private const string VmRole = "vm";

    /// <summary>The ops that take vswitchd from <paramref name="list"/> (its `list` reply) to <paramref name="plan"/>.</summary>
    /// <exception cref="InvalidDataException">The reply lacks a field `list` always has.</exception>
    public static VswitchdChanges Compute(JsonObject plan, JsonObject list)
    {
        // Desired: the plan's VM ports, its VMs with their tenant's name and VNI beside them, and
        // its remote VMs with their tenant's name, as `list` reports them (flat, each naming its tenant).
        Dictionary<string, JsonObject> wantPorts = ByName(Items(plan, "ports").Where(IsVmPort));
        var wantVms = new Dictionary<string, (JsonObject Vm, JsonNode? Vni)>(StringComparer.Ordinal);
        var wantRemoteVms = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (JsonObject tenant in Items(plan, "tenants"))
        {
            foreach (JsonObject vm in Items(tenant, "vms"))
                wantVms[Name(vm)] = (WithTenant(vm, tenant), tenant["vni"]);
            foreach (JsonObject vm in Items(tenant, "remote_vms"))
                wantRemoteVms[Name(vm)] = WithTenant(vm, tenant);
        }

        Dictionary<string, JsonObject> havePorts = ByName(Required(list, "ports").Where(IsVmPort));
        Dictionary<string, JsonObject> haveVms = ByName(Required(list, "vms"));
        Dictionary<string, JsonObject> haveRemoteVms = ByName(Required(list, "remote_vms"));
        Dictionary<string, JsonNode?> haveVnis = Required(list, "tenants").ToDictionary(Name, t => t["vni"], StringComparer.Ordinal);

        var removePorts = havePorts.Where(p => !wantPorts.TryGetValue(p.Key, out JsonObject? want) || !Matches(want, p.Value))
            .Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        var removeVms = haveVms.Where(v => !wantVms.TryGetValue(v.Key, out var want)
                || !Matches(want.Vm, v.Value)
                || removePorts.Contains(Text(v.Value, "port"))
                || !VniMatches(want.Vni, haveVnis, Text(v.Value, "tenant")))
            .Select(v => v.Key).ToHashSet(StringComparer.Ordinal);

        // The tenants vswitchd drops, their remote VMs with them, once the removals are done.
        var dropped = haveVms.Values.GroupBy(v => Text(v, "tenant"), StringComparer.Ordinal)
            .Where(tenant => tenant.All(v => removeVms.Contains(Name(v)))).Select(tenant => tenant.Key).ToHashSet(StringComparer.Ordinal);
        var removeRemoteVms = haveRemoteVms.Where(v => !wantRemoteVms.TryGetValue(v.Key, out JsonObject? want)
                || !Matches(want, v.Value)
                || dropped.Contains(Text(v.Value, "tenant")))
            .Select(v => v.Key).ToHashSet(StringComparer.Ordinal);

        var ops = new List<JsonObject>();
        ops.AddRange(removeRemoteVms.Order(StringComparer.Ordinal).Select(name => Op("remove-remote-vm", new JsonObject { ["name"] = name })));
        ops.AddRange(removeVms.Order(StringComparer.Ordinal).Select(name => Op("remove-vm", new JsonObject { ["name"] = name })));
        ops.AddRange(removePorts.Order(StringComparer.Ordinal).Select(name => Op("remove-port", new JsonObject { ["name"] = name })));
        ops.AddRange(wantPorts.Where(p => !havePorts.ContainsKey(p.Key) || removePorts.Contains(p.Key))
            .OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Op("add-port", (JsonObject)p.Value.DeepClone())));

        var adds = wantVms.Where(v => !haveVms.ContainsKey(v.Key) || removeVms.Contains(v.Key)).OrderBy(v => v.Key, StringComparer.Ordinal).ToList();
        foreach ((_, (JsonObject vm, JsonNode? vni)) in adds)
        {
            JsonObject request = Op("add-vm", (JsonObject)vm.DeepClone());
            if (vni is not null)
                request["vni"] = vni.DeepClone();
            ops.Add(request);
        }
        ops.AddRange(wantRemoteVms.Where(v => !haveRemoteVms.ContainsKey(v.Key) || removeRemoteVms.Contains(v.Key))
            .OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => Op("add-remote-vm", (JsonObject)v.Value.DeepClone())));

        // A tenant with the wrong VNI that still exists once the removals are done (one vswitchd
        // holds without VMs, or with VMs kept) would be joined by add-vm rather than created.
        var kept = haveVms.Values.Where(v => !removeVms.Contains(Name(v))).Select(v => Text(v, "tenant")).ToHashSet(StringComparer.Ordinal);
        string? restart = adds.Select(a => (Tenant: Text(a.Value.Vm, "tenant"), a.Value.Vni))
            .Where(a => haveVnis.ContainsKey(a.Tenant) && !VniMatches(a.Vni, haveVnis, a.Tenant)
                && (!haveVms.Values.Any(v => Text(v, "tenant") == a.Tenant) || kept.Contains(a.Tenant)))
            .Select(a => $"tenant '{a.Tenant}' has VNI {haveVnis[a.Tenant]?.ToJsonString() ?? "none"} in vswitchd and no VM to remove; the plan gives it {a.Vni?.ToJsonString() ?? "none"}")
            .FirstOrDefault();
        return restart is null ? new VswitchdChanges(ops, null) : new VswitchdChanges([], restart);
    }

    /// <summary>
    /// A digest of what only a restart changes: the plan without its VM ports and tenants (and so
    /// without its VMs and remote VMs). It is part of vswitchd's child spec, so the supervisor
    /// restarts vswitchd, on the file that was written first, exactly when it changes, and an
    /// adopted vswitchd started from another one is restarted too (the spec is in the supervisor's
    /// record of the child).
    /// </summary>
    public static string StaticFingerprint(JsonObject plan)
    {
        var fixedPart = (JsonObject)plan.DeepClone();
        fixedPart.Remove("tenants");
        if (fixedPart["ports"] is JsonArray ports)
            fixedPart["ports"] = new JsonArray([.. ports.OfType<JsonObject>().Where(p => !IsVmPort(p)).Select(p => p.DeepClone())]);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(fixedPart.ToJsonString())))[..16];
    }

    /// <summary>A copy of the plan's entry of <paramref name="tenant"/>, naming the tenant as `list` and the add ops do.</summary>
    private static JsonObject WithTenant(JsonObject entry, JsonObject tenant)
    {
        var flat = (JsonObject)entry.DeepClone();
        flat["tenant"] = tenant["name"]?.DeepClone();
        return flat;
    }

    private static bool IsVmPort(JsonObject port) => (port["role"]?.GetValue<string>() ?? VmRole) == VmRole;

    /// <summary>Every field the plan gives has the same value in vswitchd's report.</summary>
    private static bool Matches(JsonObject want, JsonObject have) =>
        want.All(field => JsonNode.DeepEquals(field.Value, have[field.Key]));

    private static bool VniMatches(JsonNode? want, Dictionary<string, JsonNode?> haveVnis, string tenant) =>
        !haveVnis.TryGetValue(tenant, out JsonNode? have) || JsonNode.DeepEquals(want, have);

    private static JsonObject Op(string op, JsonObject fields)
    {
        var request = new JsonObject { ["op"] = op };
        foreach ((string key, JsonNode? value) in fields.ToList())
        {
            fields.Remove(key);
            request[key] = value;
        }
        return request;
    }

    private static IEnumerable<JsonObject> Items(JsonObject parent, string field) =>
        parent[field] is JsonArray items ? items.OfType<JsonObject>() : [];

    private static IEnumerable<JsonObject> Required(JsonObject list, string field) =>
        list[field] is JsonArray items ? items.OfType<JsonObject>() : throw new InvalidDataException($"vswitchd's list reply has no '{field}' array");

    private static Dictionary<string, JsonObject> ByName(IEnumerable<JsonObject> items) => items.ToDictionary(Name, StringComparer.Ordinal);

    private static string Name(JsonObject item) => Text(item, "name");

    private static string Text(JsonObject item, string field) =>
        item[field] is JsonValue value && value.TryGetValue(out string? text) ? text : throw new InvalidDataException($"an entry without a string '{field}': {item.ToJsonString()}");
}
