// The control socket's add and remove requests (docs/control-socket.md, "Ops"), read by the
// configuration file's own readers: a request is a port, VM or remote VM entry of the file at
// the top level, with the VM's tenant (and vni) beside its fields. So the field names, their
// types, defaults and messages are the file's, declared once in ConfigDocument and ConfigMapper;
// a request's error names the field as the request spells it ("mac: 'x' is not a MAC address").
using System.Text.Json.Nodes;
using VSwitch.Dataplane.Config.Internal;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Dataplane.Config;

public static class ControlRequests
{
    /// <summary>An add-port request's port.</summary>
    /// <exception cref="ConfigException">One line per bad field.</exception>
    public static PortSpec Port(JsonObject request) => Read(request, PortEntry.Bind, (entry, errors) =>
    {
        Require(errors, ("name", entry.Name));
        if (entry.Devargs is null && entry.VhostUser is null)
            errors.Required("devargs");
        return ConfigMapper.MapPort(entry, errors);
    });

    /// <summary>An add-vm request's VM, and the vni of the tenant it creates when there is none of its name.</summary>
    /// <exception cref="ConfigException">One line per bad field.</exception>
    public static (VmSpec Vm, uint? Vni) Vm(JsonObject request) =>
        Read(request, fields => (Tenant: fields.String("tenant"), Vni: fields.Int("vni"), Entry: VmEntry.Bind(fields)), (vm, errors) =>
        {
            Require(errors, ("name", vm.Entry.Name), ("tenant", vm.Tenant), ("port", vm.Entry.Port));
            if (vm.Vni < 0)
                errors.Add("vni", $"{vm.Vni} is out of range ({SpecValidator.MinVni}..{SpecValidator.MaxVni})");
            return (ConfigMapper.MapVm(vm.Entry, vm.Tenant ?? "", errors), vm.Vni is int vni ? (uint?)vni : null);
        });

    /// <summary>An add-remote-vm request's remote VM.</summary>
    /// <exception cref="ConfigException">One line per bad field.</exception>
    public static RemoteVmSpec RemoteVm(JsonObject request) =>
        Read(request, fields => (Tenant: fields.String("tenant"), Entry: RemoteVmEntry.Bind(fields)), (vm, errors) =>
        {
            Require(errors, ("name", vm.Entry.Name), ("tenant", vm.Tenant), ("host", vm.Entry.Host));
            return ConfigMapper.MapRemoteVm(vm.Entry, vm.Tenant ?? "", errors);
        });

    /// <summary>The "name" of a remove request, its only field.</summary>
    /// <exception cref="ConfigException">The name is missing or mistyped, or another field is given.</exception>
    public static string Name(JsonObject request) => Read(request, fields => fields.String("name"), (name, errors) =>
    {
        Require(errors, ("name", name));
        return name ?? "";
    });

    /// <summary>A flows request: the tenant to report alone (null: every tenant), and how many flows per tenant.</summary>
    /// <exception cref="ConfigException">A field is mistyped or out of range, or another field is given.</exception>
    public static (string? Tenant, int Top) Flows(JsonObject request, int defaultTop) =>
        Read(request, fields => (Tenant: fields.String("tenant"), Top: fields.Int("top")), (flows, errors) =>
        {
            int top = flows.Top ?? defaultTop;
            if (top is < 1 or > FlowSettings.MaxTop)
                errors.Add("top", $"{top} is out of range (1..{FlowSettings.MaxTop})");
            return (flows.Tenant, top);
        });

    /// <summary>
    /// Binds the request's fields, then maps them; as for the file, the mapper's errors about a
    /// field the binder already found mistyped (and so reads as "not given") are left out.
    /// </summary>
    private static T Read<TEntry, T>(JsonObject request, Func<FieldReader, TEntry> bind, Func<TEntry, ConfigErrors, T> map)
    {
        var errors = new ConfigErrors();
        // A JsonObject is already valid JSON: the tree reader cannot fail on it.
        ConfigNode root = JsonTreeReader.Read(request.ToJsonString(), errors)!;
        TEntry entry = default!;
        FieldReader.Read(root, "", errors, fields =>
        {
            fields.Accept("op", "id");
            entry = bind(fields);
            return fields;
        });
        var mapping = new ConfigErrors();
        T value = map(entry, mapping);
        errors.AddFollowUps(mapping.All);
        if (errors.Any)
            throw new ConfigException(filePath: null, errors.Lines());
        return value;
    }

    private static void Require(ConfigErrors errors, params ReadOnlySpan<(string Field, string? Value)> fields)
    {
        foreach ((string field, string? value) in fields)
        {
            if (value is null)
                errors.Required(field);
        }
    }
}
