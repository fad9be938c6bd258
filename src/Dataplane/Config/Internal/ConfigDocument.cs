// The configuration file's shape, field for field, as read from the tree: every value is
// optional here ("not given" or mistyped) and still text where the file has text. Defaults,
// parsing and rules come later (ConfigMapper, SpecValidator). The snake_case names below are the
// only place the file's field names are spelled.
namespace VSwitch.Dataplane.Config.Internal;

internal sealed record ConfigDocument(
    DpdkSection? Dpdk, WorkersSection? Workers, string? ControlSocket, IReadOnlyList<PortEntry> Ports, IReadOnlyList<TenantEntry> Tenants)
{
    /// <summary>Returns null when the top level is not a mapping; everything else is reported and read around.</summary>
    public static ConfigDocument? Bind(ConfigNode root, ConfigErrors errors) =>
        FieldReader.Read(root, "", errors, file => new ConfigDocument(
            file.Mapping("dpdk", DpdkSection.Bind),
            file.Mapping("workers", WorkersSection.Bind),
            file.String("control_socket"),
            file.MappingList("ports", PortEntry.Bind) ?? [],
            file.MappingList("tenants", TenantEntry.Bind) ?? []));
}

internal sealed record DpdkSection(IReadOnlyList<string?>? EalArgs, string? PmdDir, int? Mbufs)
{
    public static DpdkSection Bind(FieldReader dpdk) =>
        new(dpdk.StringList("eal_args"), dpdk.String("pmd_dir"), dpdk.Int("mbufs"));
}

internal sealed record WorkersSection(IReadOnlyList<int?>? Cores, int? IdleSleepUs)
{
    public static WorkersSection Bind(FieldReader workers) =>
        new(workers.IntList("cores"), workers.Int("idle_sleep_us"));
}

/// <param name="Path">Where the entry is in the file, e.g. "ports[2]"; entries that are not mappings are left out, so it is not always the list index.</param>
internal sealed record PortEntry(string Path, string? Name, string? Devargs, string? Role, int? Mtu, int? Queues)
{
    public static PortEntry Bind(FieldReader port) =>
        new(port.Path, port.String("name"), port.String("devargs"), port.String("role"), port.Int("mtu"), port.Int("queues"));
}

internal sealed record TenantEntry(string Path, string? Name, IReadOnlyList<VmEntry> Vms)
{
    public static TenantEntry Bind(FieldReader tenant) =>
        new(tenant.Path, tenant.String("name"), tenant.MappingList("vms", VmEntry.Bind) ?? []);
}

internal sealed record VmEntry(string Path, string? Name, string? Port, string? Mac, IReadOnlyList<string?> Ipv4, IReadOnlyList<string?> Ipv6)
{
    public static VmEntry Bind(FieldReader vm) =>
        new(vm.Path, vm.String("name"), vm.String("port"), vm.String("mac"), vm.StringList("ipv4") ?? [], vm.StringList("ipv6") ?? []);
}
