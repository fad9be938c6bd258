// The configuration file's shape, field for field, as read from the tree: every value is
// optional here ("not given" or mistyped) and still text where the file has text. Defaults,
// parsing and rules come later (ConfigMapper, SpecValidator). The snake_case names below are the
// only place the file's field names are spelled.
using VSwitch.Dataplane.Protocols;

namespace VSwitch.Dataplane.Config.Internal;

internal sealed record ConfigDocument(
    DpdkSection? Dpdk, WorkersSection? Workers, string? ControlSocket, IReadOnlyList<PortEntry> Ports, IReadOnlyList<TenantEntry> Tenants,
    OverlaySection? Overlay = null, ControlSection? Control = null, FlowsSection? Flows = null, MetricsSection? Metrics = null)
{
    /// <summary>Returns null when the top level is not a mapping; everything else is reported and read around.</summary>
    public static ConfigDocument? Bind(ConfigNode root, ConfigErrors errors) =>
        FieldReader.Read(root, "", errors, file =>
        {
            DpdkSection? dpdk = file.Mapping("dpdk", DpdkSection.Bind);
            WorkersSection? workers = file.Mapping("workers", WorkersSection.Bind);
            string? controlSocket = file.String("control_socket");
            IReadOnlyList<PortEntry> ports = file.MappingList("ports", PortEntry.Bind) ?? [];
            OverlaySection? overlay = file.Mapping("overlay", OverlaySection.Bind);
            IReadOnlyList<TenantEntry> tenants = file.MappingList("tenants", TenantEntry.Bind) ?? [];
            ControlSection? control = file.Mapping("control", ControlSection.Bind);
            FlowsSection? flows = file.Mapping("flows", FlowsSection.Bind);
            MetricsSection? metrics = file.Mapping("metrics", MetricsSection.Bind);
            return new ConfigDocument(dpdk, workers, controlSocket, ports, tenants, overlay, control, flows, metrics);
        });
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

internal sealed record FlowsSection(bool? Enabled, int? TableSize, int? Top, int? SampleRate)
{
    public static FlowsSection Bind(FieldReader flows) => new(flows.Bool("enabled"), flows.Int("table_size"), flows.Int("top"), flows.Int("sample_rate"));
}

internal sealed record MetricsSection(string? Listen)
{
    public static MetricsSection Bind(FieldReader metrics) => new(metrics.String("listen"));
}

internal sealed record ControlSection(string? Group, int? MaxConnections, int? IdleTimeoutS, int? FrameTimeoutS, string? PcapDir, string? VhostDir)
{
    public static ControlSection Bind(FieldReader control) =>
        new(control.String("group"), control.Int("max_connections"), control.Int("idle_timeout_s"), control.Int("frame_timeout_s"),
            control.String("pcap_dir"), control.String("vhost_dir"));
}

/// <param name="Path">Where the entry is in the file, e.g. "ports[2]"; entries that are not mappings are left out, so it is not always the list index.</param>
internal sealed record PortEntry(string Path, string? Name, string? Devargs, string? Role, int? Mtu, int? Queues)
{
    public VhostUserEntry? VhostUser { get; init; }

    public static PortEntry Bind(FieldReader port) =>
        new(port.Path, port.String("name"), port.String("devargs"), port.String("role"), port.Int("mtu"), port.Int("queues"))
        {
            VhostUser = port.Mapping("vhost_user", VhostUserEntry.Bind),
        };
}

internal sealed record VhostUserEntry(string Path, string? Socket, string? Mode)
{
    public static VhostUserEntry Bind(FieldReader vhost) => new(vhost.Path, vhost.String("socket"), vhost.String("mode"));
}

internal sealed record TenantEntry(string Path, string? Name, IReadOnlyList<VmEntry> Vms, int? Vni, IReadOnlyList<RemoteVmEntry> RemoteVms)
{
    public static TenantEntry Bind(FieldReader tenant)
    {
        string? name = tenant.String("name");
        int? vni = tenant.Int("vni");
        return new(tenant.Path, name, tenant.MappingList("vms", VmEntry.Bind) ?? [], vni, tenant.MappingList("remote_vms", RemoteVmEntry.Bind) ?? []);
    }
}

internal sealed record RemoteVmEntry(string Path, string? Name, string? Host, string? Mac, IReadOnlyList<string?> Ipv4)
{
    public bool? AllowRouting { get; init; }

    public static RemoteVmEntry Bind(FieldReader vm) =>
        new(vm.Path, vm.String("name"), vm.String("host"), vm.String("mac"), vm.StringList("ipv4") ?? []) { AllowRouting = vm.Bool("allow_routing") };
}

internal sealed record OverlaySection(
    string Path, string? Uplink, string? Vtep, string? Mac, string? Gateway, int? Ttl, int? NeighbourTimeoutS,
    IReadOnlyList<StaticNeighbourEntry> StaticNeighbours, IReadOnlyList<RemoteHostEntry> RemoteHosts)
{
    public static OverlaySection Bind(FieldReader overlay) =>
        new(overlay.Path, overlay.String("uplink"), overlay.String("vtep"), overlay.String("mac"), overlay.String("gateway"),
            overlay.Int("ttl"), overlay.Int("neighbour_timeout_s"),
            overlay.MappingList("static_neighbours", StaticNeighbourEntry.Bind) ?? [],
            overlay.MappingList("remote_hosts", RemoteHostEntry.Bind) ?? []);
}

internal sealed record StaticNeighbourEntry(string Path, string? Ip, string? Mac)
{
    public static StaticNeighbourEntry Bind(FieldReader neighbour) =>
        new(neighbour.Path, neighbour.String("ip"), neighbour.String("mac"));
}

internal sealed record RemoteHostEntry(string Path, string? Name, string? Vtep, string? Tunnel, IReadOnlyList<GeneveOptionEntry> GeneveOptions)
{
    public static RemoteHostEntry Bind(FieldReader host) =>
        new(host.Path, host.String("name"), host.String("vtep"), host.String("tunnel"),
            host.MappingList("geneve_options", GeneveOptionEntry.Bind) ?? []);
}

/// <param name="Data">Hex digits, two per byte.</param>
internal sealed record GeneveOptionEntry(string Path, int? Class, int? Type, string? Data)
{
    public static GeneveOptionEntry Bind(FieldReader option) =>
        new(option.Path, option.Int("class"), option.Int("type"), option.String("data"));
}

internal sealed record VmEntry(string Path, string? Name, string? Port, string? Mac, IReadOnlyList<string?> Ipv4, IReadOnlyList<string?> Ipv6)
{
    public bool? AllowRouting { get; init; }
    public int? FloodRatePps { get; init; }
    public int? FloodBurst { get; init; }

    public static VmEntry Bind(FieldReader vm) =>
        new(vm.Path, vm.String("name"), vm.String("port"), vm.String("mac"), vm.StringList("ipv4") ?? [], vm.StringList("ipv6") ?? [])
        {
            AllowRouting = vm.Bool("allow_routing"),
            FloodRatePps = vm.Int("flood_rate_pps"),
            FloodBurst = vm.Int("flood_burst"),
        };
}
