// Every counter of vswitchd read once (Daemon/Vswitchd.TakeSnapshot), and the counters op's JSON
// made from it (docs/control-socket.md, "counters"). /metrics reads the same snapshot
// (VswitchdMetrics.cs), so the two never disagree on what a counter means.
using System.Text.Json.Nodes;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Interop;
using VSwitch.Dataplane.Tables;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Vhost;

namespace VSwitch.Dataplane.Metrics;

/// <summary>A port queue's frames in, out and dropped (the rx queue for a classified drop, the tx queue for a frame it did not take).</summary>
internal readonly record struct QueueCounts(ulong Rx, ulong Tx, ulong Drops);

/// <summary>One worker's own counters.</summary>
internal readonly record struct WorkerSample(int Index, int Core, ulong Polls, ulong Packets, long AllocatedBytes, ulong BusyCycles, ulong IdleCycles, long JitMethods = 0);

/// <summary>
/// One port: the VM bound to it and that VM's tenant, its queues' counts and its drops by reason
/// (indexed by DropReason; they sum to its queues' drops) since it was attached, and its ethdev's
/// statistics (null for a vhost-user port).
/// </summary>
internal sealed record PortSample(PortSpec Spec, ushort Id, string? Vm, string? Tenant, QueueCounts[] Queues, ulong[] DropReasons, EthStats? Eth, int DiscardedAtAttach, VhostPort? Vhost)
{
    public ulong Rx => Queues.Aggregate(0UL, (sum, q) => sum + q.Rx);
    public ulong Tx => Queues.Aggregate(0UL, (sum, q) => sum + q.Tx);
    public ulong Drops => Queues.Aggregate(0UL, (sum, q) => sum + q.Drops);
}

/// <param name="Sum">Every worker's counters summed (WorkerCounters.Sum).</param>
/// <param name="Hosts">The overlay's remote hosts; their Index indexes Sum's tunnel arrays.</param>
/// <param name="TscHz">The rate of the workers' busy and idle cycles.</param>
/// <param name="TenantUplinkDrops">Per tenant, the tunnelled frames of its remote VMs dropped on the uplink once their tunnel was known, by reason (every worker's VniDropTable, by the tenants' VNIs).</param>
/// <param name="UnattributedTenantDrops">Such drops that found their worker's VniDropTable full: counted at the uplink, under no tenant.</param>
internal sealed record CountersSnapshot(
    IReadOnlyList<WorkerSample> Workers, WorkerCounters Sum, IReadOnlyList<PortSample> Ports, IReadOnlyList<RemoteHost> Hosts, ulong TscHz,
    int Gen0Collections, int Gen1Collections, int Gen2Collections, TimeSpan GcPauseTotal,
    IReadOnlyDictionary<string, ulong[]> TenantUplinkDrops, ulong UnattributedTenantDrops)
{
    /// <summary>
    /// Each tenant's drops by reason (indexed by DropReason): the sums over its VMs' ports (frames
    /// its VMs sent that were refused, frames to its VMs that their queues did not take) and its
    /// tunnelled frames dropped on the uplink (TenantUplinkDrops), which count at the uplink port too.
    /// </summary>
    public SortedDictionary<string, ulong[]> TenantDropReasons()
    {
        var tenants = new SortedDictionary<string, ulong[]>(StringComparer.Ordinal);
        foreach (PortSample port in Ports)
        {
            if (port.Tenant is { } tenant)
                AddInto(tenants, tenant, port.DropReasons);
        }
        foreach ((string tenant, ulong[] byReason) in TenantUplinkDrops)
            AddInto(tenants, tenant, byReason);
        return tenants;
    }

    private static void AddInto(SortedDictionary<string, ulong[]> tenants, string tenant, ulong[] byReason)
    {
        if (!tenants.TryGetValue(tenant, out ulong[]? sum))
            tenants[tenant] = sum = new ulong[byReason.Length];
        for (int r = 0; r < sum.Length; r++)
            sum[r] += byReason[r];
    }

    /// <summary>
    /// Every worker's VniDropTable merged and named by the tenants of <paramref name="tenants"/>
    /// (a VNI no tenant holds now, one that left, is left out), and the drops none could hold.
    /// </summary>
    public static (Dictionary<string, ulong[]> ByTenant, ulong Unattributed) TenantUplinkDropsOf(IEnumerable<VniDropTable> workers, IEnumerable<TenantSpec> tenants)
    {
        var byVni = new Dictionary<uint, ulong[]>();
        ulong unattributed = 0;
        foreach (VniDropTable table in workers)
        {
            table.AddTo(byVni);
            unattributed += table.Unattributed;
        }
        var byTenant = new Dictionary<string, ulong[]>(StringComparer.Ordinal);
        foreach (TenantSpec tenant in tenants)
        {
            if (tenant.Vni is { } vni && byVni.TryGetValue(vni, out ulong[]? byReason))
                byTenant[tenant.Name] = byReason;
        }
        return (byTenant, unattributed);
    }
}

internal static class CountersJson
{
    public static JsonObject Write(CountersSnapshot s)
    {
        var ports = new JsonObject();
        foreach (PortSample port in s.Ports)
            ports[port.Spec.Name] = Port(port);
        var drops = new JsonObject();
        foreach (DropReason reason in Enum.GetValues<DropReason>().Where(r => r != DropReason.None))
            drops[DropReasons.Label(reason)] = s.Sum.Drops[(int)reason];
        var tunnels = new JsonObject();
        ulong encapsulated = 0, decapsulated = 0;
        foreach (RemoteHost host in s.Hosts)
        {
            int i = host.Index;
            encapsulated += s.Sum.TunnelEncap[i];
            decapsulated += s.Sum.TunnelDecap[i];
            tunnels[host.Name] = new JsonObject
            {
                ["tunnel"] = host.Tunnel.ToString().ToLowerInvariant(),
                ["vtep"] = Ipv4.Format(host.Vtep),
                ["encap"] = s.Sum.TunnelEncap[i],
                ["decap"] = s.Sum.TunnelDecap[i],
                ["geneve_options"] = s.Sum.TunnelGeneveOptions[i],
                ["geneve_critical_options"] = s.Sum.TunnelGeneveCriticalOptions[i],
            };
        }
        var tenantDrops = new JsonObject();
        foreach ((string tenant, ulong[] byReason) in s.TenantDropReasons())
            tenantDrops[tenant] = NonZeroReasons(byReason);
        var report = new JsonObject { ["ports"] = ports, ["drops"] = drops, ["tenant_drops"] = tenantDrops, ["tenant_drops_unattributed"] = s.UnattributedTenantDrops };
        CounterReport.AddTotals(report, s.Sum);
        report["encapsulated"] = encapsulated;
        report["decapsulated"] = decapsulated;
        report["tunnels"] = tunnels;
        report["workers"] = new JsonArray([.. s.Workers.Select(w => (JsonNode)new JsonObject
        {
            ["index"] = w.Index,
            ["core"] = w.Core,
            ["polls"] = w.Polls,
            ["packets"] = w.Packets,
            ["allocated_bytes"] = w.AllocatedBytes,
            ["jit_methods"] = w.JitMethods,
            ["busy_cycles"] = w.BusyCycles,
            ["idle_cycles"] = w.IdleCycles,
        })]);
        // The rate of the workers' busy_cycles and idle_cycles.
        report["tsc_hz"] = s.TscHz;
        // A collection suspends the workers too, even though they never allocate: report it.
        report["gc"] = new JsonObject
        {
            ["collections"] = s.Gen0Collections,
            ["gen2_collections"] = s.Gen2Collections,
            ["pause_total_ms"] = Math.Round(s.GcPauseTotal.TotalMilliseconds, 3),
        };
        return report;
    }

    /// <summary>A vhost-user port's frontend as the counters and list ops report it.</summary>
    public static JsonObject VhostState(VhostPort port)
    {
        VhostPortState state = port.State();
        return new JsonObject
        {
            ["socket"] = port.Socket,
            ["mode"] = port.Mode.ToString().ToLowerInvariant(),
            ["connected"] = state.Connected,
            ["features"] = $"0x{state.Features:x}",
            ["queue_pairs"] = state.QueuePairs,
            ["guest_rx_queues"] = new JsonArray([.. state.GuestRxQueues.Select(q => (JsonNode)q)]),
            ["guest_tx_queues"] = new JsonArray([.. state.GuestTxQueues.Select(q => (JsonNode)q)]),
            ["connections"] = state.Connections,
        };
    }

    /// <summary>The reasons that dropped any frame, by label: a port's drops name the few that hit it.</summary>
    public static JsonObject NonZeroReasons(ulong[] byReason) =>
        new(DropReasons.Hits(byReason).Select(hit => KeyValuePair.Create(hit.Label, (JsonNode?)hit.Frames)));

    private static JsonObject Port(PortSample port)
    {
        var entry = new JsonObject
        {
            ["port_id"] = port.Id,
            ["role"] = port.Spec.Role.ToString().ToLowerInvariant(),
            ["vm"] = port.Vm,
            ["tenant"] = port.Tenant,
            ["rx"] = port.Rx,
            ["tx"] = port.Tx,
            ["drops"] = port.Drops,
            ["queues"] = new JsonArray([.. port.Queues.Select(q => (JsonNode)new JsonObject { ["rx"] = q.Rx, ["tx"] = q.Tx, ["drops"] = q.Drops })]),
            ["drop_reasons"] = NonZeroReasons(port.DropReasons),
        };
        if (port.Vhost is { } vhost)
            entry["vhost_user"] = VhostState(vhost);
        if (port.Eth is { } stats)
        {
            entry["ipackets"] = stats.Ipackets;
            entry["opackets"] = stats.Opackets;
            entry["ibytes"] = stats.Ibytes;
            entry["obytes"] = stats.Obytes;
            entry["imissed"] = stats.Imissed;
            entry["ierrors"] = stats.Ierrors;
            entry["oerrors"] = stats.Oerrors;
            entry["rx_nombuf"] = stats.RxNoMbuf;
            entry["discarded_at_attach"] = port.DiscardedAtAttach;
        }
        return entry;
    }
}
