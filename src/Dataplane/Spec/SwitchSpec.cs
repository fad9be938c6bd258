// The desired state of the switch, as configured: tenants, ports, and the VMs bound to them.
// It is validated once (Config/SpecValidator) and then compiled into a SwitchTables snapshot;
// nothing here is read on the packet path.
using System.Collections.Immutable;

namespace VSwitch.Dataplane.Spec;

public enum PortRole
{
    /// <summary>Bound to exactly one VM of one tenant.</summary>
    Vm,
    /// <summary>The host's link to the underlay; carries tunnelled tenant traffic once an overlay exists.</summary>
    Uplink,
}

/// <param name="Vni">The tenant's 24-bit VXLAN/GENEVE network identifier; required once an overlay is configured.</param>
public sealed record TenantSpec(string Name, uint? Vni = null);

/// <param name="Devargs">A DPDK vdev string such as "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap"; empty for a vhost-user port.</param>
/// <param name="Queues">VM queue pairs; a frame to the VM goes to queue (flow hash mod Queues).</param>
public sealed record PortSpec(string Name, string Devargs, PortRole Role, int Mtu, int Queues)
{
    public const int DefaultMtu = 1500;

    /// <summary>Set for a VM port served over vhost-user (Vhost/): the VM's virtio rings, no DPDK ethdev. Devargs is then empty.</summary>
    public VhostUserSpec? VhostUser { get; init; }

    /// <summary>The DPDK device name: the devargs up to the first comma.</summary>
    public string DeviceName => Devargs.Split(',', 2)[0];
}

public enum VhostUserMode
{
    /// <summary>vswitchd listens on the socket; the VM's frontend connects (and reconnects).</summary>
    Server,
    /// <summary>The VM's VMM listens; vswitchd connects, and reconnects by itself whenever either side restarts.</summary>
    Client,
}

/// <param name="Socket">The vhost-user Unix socket's absolute path.</param>
public sealed record VhostUserSpec(string Socket, VhostUserMode Mode);

public sealed record VmSpec(string Name, string Tenant, string Port, ulong Mac, ImmutableArray<uint> Ipv4, ImmutableArray<UInt128> Ipv6)
{
    /// <summary>May send IPv6 Router Advertisements and Redirects (RFC 4861 sections 4.2, 4.5): the VM is the tenant's router.</summary>
    public bool AllowRouting { get; init; }

    /// <summary>
    /// Broadcast, multicast and unknown unicast frames per second the VM may send (FloodLimit.cs).
    /// 1000: two orders of magnitude above what a host sends in steady state (ARP the responder
    /// cannot answer, neighbour solicitations, MLD, mDNS: a few per second), yet it bounds what
    /// one VM can make every port of its tenant and every remote host receive.
    /// </summary>
    public int FloodRatePps { get; init; } = DefaultFloodRatePps;
    /// <summary>Floods the VM may send at once: 200 covers a boot's or an address change's burst of neighbour discovery and announcements.</summary>
    public int FloodBurst { get; init; } = DefaultFloodBurst;

    public const int DefaultFloodRatePps = 1000;
    public const int DefaultFloodBurst = 200;
    public const int MaxFloodRatePps = 10_000_000;
    public const int MaxFloodBurst = 1_000_000;
}

public sealed record SwitchSpec(ImmutableArray<TenantSpec> Tenants, ImmutableArray<PortSpec> Ports, ImmutableArray<VmSpec> Vms)
{
    /// <summary>VXLAN/GENEVE toward other hosts; null: the switch is local only and the uplink drops everything.</summary>
    public OverlaySpec? Overlay { get; init; }

    /// <summary>Tenant VMs on other hosts (needs Overlay).</summary>
    public ImmutableArray<RemoteVmSpec> RemoteVms { get; init; } = [];

    public static readonly SwitchSpec Empty = new([], [], []);
}
