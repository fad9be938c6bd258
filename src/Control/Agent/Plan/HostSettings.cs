// What the agent knows of its host beyond the desired state: where runtime files go, how
// vswitchd runs (DPDK, cores, the uplink and overlay) and where vmm finds volumes. Plain values:
// `vswitch-agent run --host-settings FILE` reads them from a JSON file (Reconcile/HostSettingsFile;
// snake_case, the runtime directory as "runtime_dir", the name its errors give). Every vswitchd
// field but the EAL arguments is optional, so a host without an uplink (one host, no overlay)
// needs none of them.
using System.Text.Json.Serialization;

namespace VSwitch.Control.Agent.Plan;

/// <param name="RuntimeDirectory">An absolute directory for sockets and generated files (RuntimePaths), e.g. /run/vswitch.</param>
public sealed record HostSettings([property: JsonPropertyName("runtime_dir")] string RuntimeDirectory)
{
    /// <summary>
    /// Which side of every NIC's vhost-user socket connects: vswitchd is the client, vmm listens.
    /// A client reconnects every second whenever the other side restarts (docs/configuration.md,
    /// ports[].vhost_user.mode; Open vSwitch's dpdkvhostuserclient), so vswitchd can restart
    /// under running VMs, and a VM can restart, without either daemon being told. The other way
    /// round a vswitchd restart would tear down every VM's socket, and vmm would have to notice
    /// and reconnect. vmm only listens (docs/vmm.md, "Spec file", nics), so this is not a setting.
    /// </summary>
    public const string VhostUserMode = "client";

    public VswitchdSettings Vswitchd { get; init; } = new();
    public VmmSettings Vmm { get; init; } = new();

    [JsonIgnore]
    public RuntimePaths Paths => new(RuntimeDirectory);

    /// <summary>
    /// The MTU of every VM NIC, which vswitchd's port and the guest's virtio-net device must
    /// agree on. With an uplink: 1450, so that a full frame and VXLAN's (or option-less GENEVE's)
    /// 50 bytes of outer headers fit a 1500-byte underlay (docs/overlay.md, "MTU"); else 1500.
    /// </summary>
    [JsonIgnore]
    public int NicMtu => Vswitchd.NicMtu ?? (Vswitchd.Uplink is null ? StandardMtu : StandardMtu - OverlayOverhead);

    private const int StandardMtu = 1500;
    private const int OverlayOverhead = 50;

    /// <summary>Throws <see cref="PlanException"/> naming the first setting no daemon can run with.</summary>
    public void Check()
    {
        if (!Path.IsPathFullyQualified(RuntimeDirectory))
            throw new PlanException("runtime_dir", $"'{RuntimeDirectory}' is not an absolute path");
        if (RuntimeDirectory.Length > RuntimePaths.MaxRootLength)
        {
            throw new PlanException("runtime_dir", $"'{RuntimeDirectory}' is {RuntimeDirectory.Length} characters; at most " +
                $"{RuntimePaths.MaxRootLength}, so that every socket under it fits sun_path's {RuntimePaths.MaxSocketPath} bytes");
        }
        if (Vswitchd.Uplink is { } uplink)
        {
            if (string.IsNullOrEmpty(uplink.Devargs))
                throw new PlanException("vswitchd.uplink.devargs", "is required: the DPDK device of the host's link to the underlay");
            if (string.IsNullOrEmpty(uplink.Vtep))
                throw new PlanException("vswitchd.uplink.vtep", "is required: this host's VTEP address and prefix, 192.168.50.1/24");
        }
        if (Vmm.VolumePool is { } pool && !Path.IsPathFullyQualified(pool))
            throw new PlanException("vmm.volume_pool", $"'{pool}' is not an absolute path");
        if (Vmm.Cgroup is { } cgroup && (!Path.IsPathFullyQualified(cgroup) || Path.GetDirectoryName(cgroup) is null))
            throw new PlanException("vmm.cgroup", $"'{cgroup}' is not an absolute path below a cgroup v2 group (e.g. {VmmSettings.DefaultCgroup})");
        if (Vmm.Cpus is { } cpus && (cpus.Count == 0 || cpus.Any(c => c is < 0 or > 4095) || cpus.Distinct().Count() != cpus.Count))
            throw new PlanException("vmm.cpus", "must list distinct host CPU numbers 0..4095, at least one");
    }
}

/// <summary>vswitchd's settings that are the host's, not the desired state's (docs/configuration.md).</summary>
/// <param name="EalArgs">dpdk.eal_args: lcores (-l), memory, file prefix; never --vdev.</param>
/// <param name="WorkerCores">workers.cores; null: vswitchd's default (lcore 1).</param>
/// <param name="Mbufs">dpdk.mbufs; null: vswitchd's default.</param>
/// <param name="PmdDir">dpdk.pmd_dir; null: vswitchd's default.</param>
/// <param name="ControlGroup">control.group: who besides root may use the control socket; null: vswitchd's own group.</param>
/// <param name="Uplink">The uplink and this host's VTEP; null: no overlay, VMs reach only this host's VMs.</param>
/// <param name="NicMtu">Every VM NIC's MTU; null: HostSettings.NicMtu's default.</param>
/// <param name="IdleSleepUs">workers.idle_sleep_us: how long a worker sleeps after an empty poll; null: vswitchd's default (0, pure polling).</param>
public sealed record VswitchdSettings(
    IReadOnlyList<string>? EalArgs = null,
    IReadOnlyList<int>? WorkerCores = null,
    int? Mbufs = null,
    string? PmdDir = null,
    string? ControlGroup = null,
    UplinkSettings? Uplink = null,
    int? NicMtu = null,
    int? IdleSleepUs = null)
{
    /// <summary>vswitchd's workers.cores when its configuration names none (DaemonConfig.DefaultWorkerCore; a unit test holds them equal).</summary>
    public const int DefaultWorkerCore = 1;

    /// <summary>The lcores vswitchd's workers poll on with these settings.</summary>
    public IReadOnlyList<int> EffectiveWorkerCores => WorkerCores ?? [DefaultWorkerCore];
}

/// <summary>The host's link to the underlay and its VTEP (docs/overlay.md; the overlay section of docs/configuration.md).</summary>
/// <param name="Devargs">The uplink port's DPDK device, e.g. "0000:03:00.0" or "net_af_packet0,iface=eth1".</param>
/// <param name="Vtep">overlay.vtep: this host's VTEP address and the underlay prefix, "192.168.50.1/24".</param>
/// <param name="Mac">overlay.mac; null: the uplink port's own MAC.</param>
/// <param name="Gateway">overlay.gateway: the next hop toward VTEPs outside the prefix; null: every remote VTEP is on-link.</param>
/// <param name="StaticNeighbours">overlay.static_neighbours: next hops whose MAC is pinned, never asked for by ARP.</param>
/// <param name="Mtu">The uplink port's MTU; null: vswitchd's default (1500).</param>
public sealed record UplinkSettings(
    string Devargs,
    string Vtep,
    string? Mac = null,
    string? Gateway = null,
    IReadOnlyList<StaticNeighbour>? StaticNeighbours = null,
    int? Mtu = null);

/// <summary>A next hop's pinned MAC (overlay.static_neighbours[]).</summary>
public sealed record StaticNeighbour(string Ip, string Mac);

/// <summary>vmm's settings that are the host's.</summary>
/// <param name="VolumePool">The volume pool's folder (docs/vmm.md, "Volume pools"), where every VM's volumes are; null: VMs with volumes cannot be planned.</param>
/// <param name="Cgroup">The cgroup v2 group under which each VM gets its own (Reconcile/VmCgroups); null: VMs are not placed, and their CPU weight and cap are not applied.</param>
/// <param name="Cpus">The host CPUs VMs' vCPUs run on; null: every online CPU but vswitchd's worker cores (every online CPU when that leaves none).</param>
public sealed record VmmSettings(string? VolumePool = null, string? Cgroup = VmmSettings.DefaultCgroup, IReadOnlyList<int>? Cpus = null)
{
    public const string DefaultCgroup = "/sys/fs/cgroup/vswitch";

    /// <summary>A VM's own group under <see cref="Cgroup"/>, by its vmm name; null when VMs are not placed.</summary>
    public string? CgroupOf(string vm) => Cgroup is null ? null : Path.Join(Cgroup, PlanNames.Daemon(vm));
}
