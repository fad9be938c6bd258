// The switching tables: one immutable snapshot, compiled from a SwitchSpec and swapped
// atomically (Volatile.Write) by the control side. Workers read the current snapshot once per
// burst, without locks, and never see a half-built table.
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Collections;
using VSwitch.Dataplane.Vhost;
using VSwitch.Dataplane.Spec;

namespace VSwitch.Dataplane.Tables;

/// <summary>What a DPDK port is to the switch: its role, and for a VM port its tenant and bindings.</summary>
public sealed class PortBinding
{
    public required ushort PortId { get; init; }
    public required string Name { get; init; }
    public required PortRole Role { get; init; }
    /// <summary>Index into SwitchTables.Tenants; -1 for the uplink and unbound ports.</summary>
    public int TenantIndex { get; init; } = -1;
    public string? VmName { get; init; }
    public ulong Mac { get; init; }
    public uint[] Ipv4 { get; init; } = [];
    public UInt128[] Ipv6 { get; init; } = [];
    public UInt128 LinkLocalIpv6 { get; init; }
    /// <summary>MTU plus the Ethernet header: the longest frame the port takes or gives.</summary>
    public required int MaxFrameLength { get; init; }
    public required ushort Queues { get; init; }
    /// <summary>The VM may send Router Advertisements and Redirects (vms[].allow_routing).</summary>
    public bool AllowRouting { get; init; }
    /// <summary>The vhost-user device behind a vhost port; null for an ethdev port.</summary>
    public VhostPort? Vhost { get; init; }

    public bool IsBoundVm => Role == PortRole.Vm && TenantIndex >= 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool HasIpv4(uint address) => ShortLists.Contains(Ipv4, address);

    public bool HasIpv6(UInt128 address)
    {
        if (address == LinkLocalIpv6)
            return true;
        foreach (UInt128 bound in Ipv6)
        {
            if (bound == address)
                return true;
        }
        return false;
    }
}

/// <param name="Vhost">The vhost-user device of a vhost port (polled through the vhost library); null for an ethdev.</param>
public readonly record struct RxQueue(ushort Port, ushort Queue, VhostPort? Vhost);

public sealed class SwitchTables
{
    /// <summary>RTE_MAX_ETHPORTS of Debian's DPDK 22.11 build (the shim reports it; a test pins it): ethdev ports take ids below it.</summary>
    public const int MaxEthPorts = 32;
    /// <summary>vhost-user ports, which are no ethdevs: they take the ids from MaxEthPorts up.</summary>
    public const int MaxVhostPorts = 1024;
    /// <summary>Port ids index arrays of this size (tables, flood limits, per-port counters).</summary>
    public const int MaxPorts = MaxEthPorts + MaxVhostPorts;
    /// <summary>Queues a port may have (a VM's queue pairs; ports[].queues in the config).</summary>
    public const int MaxQueues = 8;
    /// <summary>(port, queue) pairs index arrays of this size: the workers' tx staging and the per-queue counters.</summary>
    public const int MaxQueueSlots = MaxPorts * MaxQueues;

    /// <summary>The index of queue <paramref name="queue"/> of port <paramref name="port"/> in arrays of MaxQueueSlots.</summary>
    public static int QueueSlot(int port, int queue) => port * MaxQueues + queue;

    /// <summary>
    /// Tenants a snapshot can hold: MacKey keeps (tenant index + 1) in the 16 bits above a 48-bit
    /// MAC, and 0 there is no tenant (ULongMap reserves key 0). A 65536th tenant would wrap into
    /// tenant 0's keys and see its VMs, so the validator refuses it and Build never compiles it.
    /// </summary>
    public const int MaxTenants = 0xFFFF;

    public static readonly SwitchTables Empty = Build(SwitchSpec.Empty, new Dictionary<string, ushort>(), 1);

    public SwitchSpec Spec { get; }
    public string[] Tenants { get; }

    /// <summary>
    /// Numbers the mapping from tenant index to name. It stays from one snapshot to the next while
    /// the tenants extend the previous ones (add-vm appends a tenant), and moves when a tenant
    /// leaves and the indexes after it shift. State kept by tenant index across snapshots (the
    /// workers' flow tables) is reset when it moves, so no tenant inherits another's.
    /// </summary>
    public int TenantLayout { get; private set; }
    /// <summary>Indexed by DPDK port id; null where no configured port has that id.</summary>
    public PortBinding?[] Ports { get; }
    /// <summary>(tenant index + 1) &lt;&lt; 48 | MAC -> the VM port with that MAC in that tenant.</summary>
    public ULongMap<PortBinding> MacTable { get; }
    /// <summary>(tenant index + 1) &lt;&lt; 32 | IPv4 -> the MAC of the VM holding it, local or remote, for the ARP responder.</summary>
    public ULongMap<ulong> ArpTable { get; }
    /// <summary>Per tenant, its VM ports: where broadcast, multicast and unknown unicast go.</summary>
    public PortBinding[][] FloodPorts { get; }
    public int WorkerCount { get; }
    /// <summary>Per worker, the rx queues it polls: every (port, queue) of every attached port, dealt round-robin.</summary>
    public RxQueue[][] RxByWorker { get; }
    /// <summary>VXLAN/GENEVE tables; null when no overlay is configured (the uplink then drops everything).</summary>
    public OverlayTables? Overlay { get; }
    /// <summary>Indexed by port id: a bound VM port's flood limit, as each worker that polls it applies it; null elsewhere.</summary>
    public FloodLimit?[] FloodLimits { get; }

    private SwitchTables(SwitchSpec spec, string[] tenants, PortBinding?[] ports, ULongMap<PortBinding> macTable,
        ULongMap<ulong> arpTable, PortBinding[][] floodPorts, int workerCount, RxQueue[][] rxByWorker, OverlayTables? overlay, FloodLimit?[] floodLimits)
    {
        Overlay = overlay;
        FloodLimits = floodLimits;
        Spec = spec;
        Tenants = tenants;
        Ports = ports;
        MacTable = macTable;
        ArpTable = arpTable;
        FloodPorts = floodPorts;
        WorkerCount = workerCount;
        RxByWorker = rxByWorker;
    }

    /// <summary>Takes the tenant layout over from <paramref name="previous"/>, the snapshot this one replaces (see TenantLayout); returns this.</summary>
    public SwitchTables Succeeding(SwitchTables previous)
    {
        bool extends = previous.Tenants.Length <= Tenants.Length && previous.Tenants.AsSpan().SequenceEqual(Tenants.AsSpan(0, previous.Tenants.Length));
        TenantLayout = extends ? previous.TenantLayout : previous.TenantLayout + 1;
        return this;
    }

    /// <summary>Unambiguous for tenant indexes below MaxTenants and 48-bit MACs (the only ones Build compiles).</summary>
    public static ulong MacKey(int tenantIndex, ulong mac) => (ulong)(tenantIndex + 1) << 48 | mac;

    public static ulong ArpKey(int tenantIndex, uint ipv4) => (ulong)(tenantIndex + 1) << 32 | ipv4;

    /// <summary>
    /// Compiles a validated spec; portIds maps each port name to its DPDK port id. For an overlay,
    /// <paramref name="uplinkMac"/> is the uplink port's own MAC (used when overlay.mac is not
    /// given) and <paramref name="neighbourMacs"/> the neighbour table's published MACs, one per
    /// next hop (OverlaySpec.NextHops); without it the static neighbours alone are resolved.
    /// </summary>
    /// <param name="vhostPorts">The vhost-user devices of the vhost ports among <paramref name="portIds"/>, by port name.</param>
    public static SwitchTables Build(SwitchSpec spec, IReadOnlyDictionary<string, ushort> portIds, int workerCount,
        ulong uplinkMac = 0, ulong[]? neighbourMacs = null, IReadOnlyDictionary<string, VhostPort>? vhostPorts = null)
    {
        if (spec.Tenants.Length > MaxTenants)
            throw new ArgumentException($"{spec.Tenants.Length} tenants; a snapshot holds at most {MaxTenants}", nameof(spec));
        string[] tenants = spec.Tenants.Select(t => t.Name).ToArray();
        var tenantIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tenants.Length; i++)
            tenantIndex[tenants[i]] = i;

        var vmByPort = spec.Vms.ToDictionary(vm => vm.Port, StringComparer.Ordinal);
        var ports = new PortBinding?[MaxPorts];
        var macs = new List<KeyValuePair<ulong, PortBinding>>();
        var arps = new List<KeyValuePair<ulong, ulong>>();
        var flood = tenants.Select(_ => new List<PortBinding>()).ToArray();

        foreach (PortSpec port in spec.Ports)
        {
            if (!portIds.TryGetValue(port.Name, out ushort portId))
                continue; // not (yet) attached to DPDK
            vmByPort.TryGetValue(port.Name, out VmSpec? vm);
            int tenant = vm is null || port.Role != PortRole.Vm ? -1 : tenantIndex[vm.Tenant];
            var binding = new PortBinding
            {
                PortId = portId,
                Name = port.Name,
                Role = port.Role,
                TenantIndex = tenant,
                VmName = tenant < 0 ? null : vm!.Name,
                Mac = tenant < 0 ? 0 : vm!.Mac,
                Ipv4 = tenant < 0 ? [] : vm!.Ipv4.ToArray(),
                Ipv6 = tenant < 0 ? [] : vm!.Ipv6.ToArray(),
                LinkLocalIpv6 = tenant < 0 ? UInt128.Zero : MacAddress.LinkLocalIpv6(vm!.Mac),
                MaxFrameLength = port.Mtu + Ethernet.HeaderLength,
                Queues = (ushort)port.Queues,
                AllowRouting = tenant >= 0 && vm!.AllowRouting,
                Vhost = vhostPorts is not null && vhostPorts.TryGetValue(port.Name, out VhostPort? vhost) ? vhost : null,
            };
            ports[portId] = binding;
            if (tenant < 0)
                continue;
            macs.Add(new(MacKey(tenant, binding.Mac), binding));
            foreach (uint ip in binding.Ipv4)
                arps.Add(new(ArpKey(tenant, ip), binding.Mac));
            flood[tenant].Add(binding);
        }

        foreach (RemoteVmSpec vm in spec.RemoteVms)
        {
            foreach (uint ip in vm.Ipv4)
                arps.Add(new(ArpKey(tenantIndex[vm.Tenant], ip), vm.Mac));
        }
        OverlayTables? overlay = spec.Overlay is null
            ? null
            : OverlayTables.Build(spec, ports, uplinkMac, neighbourMacs ?? spec.Overlay.StaticNeighbourMacs());

        var rx = Enumerable.Range(0, workerCount).Select(_ => new List<RxQueue>()).ToArray();
        int next = 0;
        foreach (PortBinding port in ports.OfType<PortBinding>())
        {
            for (ushort q = 0; q < port.Queues; q++)
                rx[next++ % workerCount].Add(new RxQueue(port.PortId, q, port.Vhost));
        }
        var floodLimits = new FloodLimit?[MaxPorts];
        foreach (VmSpec vm in spec.Vms)
        {
            if (portIds.TryGetValue(vm.Port, out ushort portId) && ports[portId] is { IsBoundVm: true })
                floodLimits[portId] = FloodLimit.Share(vm.FloodRatePps, vm.FloodBurst, rx.Count(w => w.Any(q => q.Port == portId)));
        }

        return new SwitchTables(spec, tenants, ports, new ULongMap<PortBinding>(macs), new ULongMap<ulong>(arps),
            flood.Select(list => list.ToArray()).ToArray(), workerCount, rx.Select(list => list.ToArray()).ToArray(), overlay, floodLimits);
    }
}
