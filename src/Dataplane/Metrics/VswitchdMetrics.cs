// vswitchd's Prometheus metrics (docs/metrics.md): every family set from one CountersSnapshot per
// scrape, the same snapshot the control socket's counters op reports, so the two agree. Names
// follow Prometheus's conventions: a vswitchd_ prefix, _total on counters, base units (seconds,
// bytes), and labels whose values come from the config (ports, tenants, remote hosts, workers)
// or are bounded by it (flows: flows.top per tenant). Allocates: control side only.
using Prometheus;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Flows;
using VSwitch.Dataplane.Overlay.Neighbours;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Dataplane.Metrics;

/// <summary>What a scrape reads besides the counters: the flow report (null when flow accounting is off) and the neighbour table.</summary>
internal sealed record MetricsInputs(CountersSnapshot Counters, IReadOnlyList<TenantFlows>? Flows, IReadOnlyList<string> TenantNames, IReadOnlyList<NeighbourEntry> Neighbours);

internal sealed class VswitchdMetrics
{
    private static readonly string[] FlowLabels = ["tenant", "vni", "protocol", "source", "destination", "source_port", "destination_port"];

    private readonly List<SnapshotFamily> _families = [];
    private readonly MetricFactory _factory;

    private readonly SnapshotGauge _portInfo;
    private readonly SnapshotCounter _portRx, _portTx, _portDropped;
    private readonly SnapshotCounter _queueRx, _queueTx, _queueDropped;
    private readonly SnapshotCounter _ethRxPackets, _ethTxPackets, _ethRxBytes, _ethTxBytes, _ethRxMissed, _ethRxErrors, _ethTxErrors, _ethRxNoMbuf;
    private readonly SnapshotCounter _dropped, _portDroppedByReason, _tenantDropped, _tenantDropsUnattributed;
    private readonly (string Field, SnapshotCounter Family)[] _outcomes;
    private readonly SnapshotGauge _remoteHostInfo;
    private readonly SnapshotCounter _tunnelEncap, _tunnelDecap, _tunnelGeneveOptions, _tunnelGeneveCritical;
    private readonly SnapshotGauge _neighbourState, _neighbourAge;
    private readonly SnapshotCounter _workerPolls, _workerPackets, _workerBusy, _workerIdle;
    private readonly SnapshotGauge _workerAllocated, _workerJit;
    private readonly SnapshotCounter _tenantPackets, _tenantBytes, _tenantOtherPackets, _tenantOtherBytes;
    private readonly SnapshotCounter _flowPackets, _flowBytes;
    private readonly SnapshotCounter _gcCollections, _gcPause;

    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    public VswitchdMetrics()
    {
        _factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        _portInfo = Gauge("vswitchd_port_info", "A port of vswitchd: 1, with its role, the VM bound to it, that VM's tenant and the port's kind (ethdev or vhost_user).", "port", "role", "vm", "tenant", "kind");
        _portRx = Counter("vswitchd_port_rx_packets_total", "Frames the workers received from the port (from the VM, for a VM's port).", "port");
        _portTx = Counter("vswitchd_port_tx_packets_total", "Frames the workers sent on the port (to the VM, for a VM's port).", "port");
        _portDropped = Counter("vswitchd_port_dropped_packets_total", "Frames dropped at the port: received and refused, or not taken by its tx queue.", "port");
        _queueRx = Counter("vswitchd_queue_rx_packets_total", "Frames the workers received from one queue of the port.", "port", "queue");
        _queueTx = Counter("vswitchd_queue_tx_packets_total", "Frames the workers sent on one queue of the port.", "port", "queue");
        _queueDropped = Counter("vswitchd_queue_dropped_packets_total", "Frames dropped at one queue of the port.", "port", "queue");
        _ethRxPackets = Counter("vswitchd_ethdev_rx_packets_total", "rte_eth_stats.ipackets of an ethdev port.", "port");
        _ethTxPackets = Counter("vswitchd_ethdev_tx_packets_total", "rte_eth_stats.opackets of an ethdev port.", "port");
        _ethRxBytes = Counter("vswitchd_ethdev_rx_bytes_total", "rte_eth_stats.ibytes of an ethdev port.", "port");
        _ethTxBytes = Counter("vswitchd_ethdev_tx_bytes_total", "rte_eth_stats.obytes of an ethdev port.", "port");
        _ethRxMissed = Counter("vswitchd_ethdev_rx_missed_total", "rte_eth_stats.imissed: frames the NIC dropped because no worker emptied its ring in time.", "port");
        _ethRxErrors = Counter("vswitchd_ethdev_rx_errors_total", "rte_eth_stats.ierrors of an ethdev port.", "port");
        _ethTxErrors = Counter("vswitchd_ethdev_tx_errors_total", "rte_eth_stats.oerrors of an ethdev port.", "port");
        _ethRxNoMbuf = Counter("vswitchd_ethdev_rx_nombuf_total", "rte_eth_stats.rx_nombuf: receives that failed for want of an mbuf.", "port");
        _dropped = Counter("vswitchd_dropped_packets_total", "Frames dropped, by reason (src/Dataplane/Counters/drop-reasons.txt).", "reason");
        _portDroppedByReason = Counter("vswitchd_port_dropped_by_reason_packets_total", "Frames dropped at the port, by reason: only the reasons that dropped any.", "port", "reason");
        _tenantDropped = Counter("vswitchd_tenant_dropped_packets_total", "Frames of the tenant dropped, by reason: at its VM ports (sent by its VMs and refused, or not taken by their queues) and on the uplink once their tunnel was known. Only the reasons that dropped any.", "tenant", "reason");
        _tenantDropsUnattributed = Counter("vswitchd_unattributed_tenant_drops_total", "Tunnelled frames dropped on the uplink that a worker's per-tenant drop table had no room for: counted at the uplink, under no tenant.");
        _outcomes = [.. WorkerCounters.Outcomes.Select(field =>
        {
            string name = System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(field.Name);
            return (field.Name, Counter($"vswitchd_{name}_total", $"The counters op's {name} (docs/control-socket.md).", []));
        })];
        _remoteHostInfo = Gauge("vswitchd_remote_host_info", "A remote host of the overlay: 1, with its VTEP address and tunnel type.", "remote_host", "vtep", "tunnel");
        _tunnelEncap = Counter("vswitchd_tunnel_encapsulated_packets_total", "Frames encapsulated toward the remote host, head-end replicas included.", "remote_host");
        _tunnelDecap = Counter("vswitchd_tunnel_decapsulated_packets_total", "Frames from the remote host decapsulated and passed on.", "remote_host");
        _tunnelGeneveOptions = Counter("vswitchd_tunnel_geneve_options_total", "GENEVE options carried by the remote host's decapsulated frames.", "remote_host");
        _tunnelGeneveCritical = Counter("vswitchd_tunnel_geneve_critical_options_total", "Critical GENEVE options (all understood) carried by the remote host's decapsulated frames.", "remote_host");
        _neighbourState = Gauge("vswitchd_neighbour_state", "A next hop toward the remote VTEPs: 1 for its current state (incomplete, resolved or static).", "next_hop", "state");
        _neighbourAge = Gauge("vswitchd_neighbour_age_seconds", "Seconds since the next hop's MAC was learned or last asked for.", "next_hop");
        _workerPolls = Counter("vswitchd_worker_polls_total", "Poll loops the worker completed.", "worker", "core");
        _workerPackets = Counter("vswitchd_worker_packets_total", "Frames the worker received.", "worker", "core");
        _workerBusy = Counter("vswitchd_worker_busy_seconds_total", "Time in poll loops that received frames (TSC cycles over the TSC rate).", "worker", "core");
        _workerIdle = Counter("vswitchd_worker_idle_seconds_total", "Time in poll loops that found every queue empty, idle sleeps included.", "worker", "core");
        _workerJit = Gauge("vswitchd_worker_jit_methods", "Methods JIT-compiled on the worker since its first burst: 0 on a healthy worker (compiling may allocate).", "worker", "core");
        _workerAllocated = Gauge("vswitchd_worker_allocated_bytes", "Managed bytes the worker allocated since its first burst: 0 on a healthy worker, -1 before its first burst.", "worker", "core");
        _tenantPackets = Counter("vswitchd_tenant_packets_total", "Every frame of the tenant through this host, exact (flow accounting on).", "tenant");
        _tenantBytes = Counter("vswitchd_tenant_bytes_total", "Bytes of every frame of the tenant through this host, exact (flow accounting on).", "tenant");
        _tenantOtherPackets = Counter("vswitchd_tenant_other_packets_total", "Frames of the tenant's flows outside its top flows (flows.top), and of flows that left the flow tables.", "tenant");
        _tenantOtherBytes = Counter("vswitchd_tenant_other_bytes_total", "Bytes of the tenant's flows outside its top flows, and of flows that left the flow tables.", "tenant");
        _flowPackets = Counter("vswitchd_flow_packets_total", "Frames of one of the tenant's top flows (flows.top per tenant; estimates when flows.sample_rate > 1).", FlowLabels);
        _flowBytes = Counter("vswitchd_flow_bytes_total", "Bytes of one of the tenant's top flows.", FlowLabels);
        _gcCollections = Counter("vswitchd_gc_collections_total", "Garbage collections of vswitchd's managed heap, by generation: each one suspends the workers too.", "generation");
        _gcPause = Counter("vswitchd_gc_pause_seconds_total", "Time vswitchd's threads, the workers among them, spent suspended for garbage collection.");
    }

    /// <summary>Sets every family from <paramref name="inputs"/>, removing the series it no longer has.</summary>
    public void Update(MetricsInputs inputs)
    {
        CountersSnapshot s = inputs.Counters;
        foreach (PortSample port in s.Ports)
            UpdatePort(port);
        foreach (DropReason reason in Enum.GetValues<DropReason>().Where(r => r != DropReason.None))
            _dropped.Set(s.Sum.Drops[(int)reason], DropReasons.Label(reason));
        foreach ((string tenant, ulong[] byReason) in s.TenantDropReasons())
            SetNonZero(_tenantDropped, tenant, byReason);
        _tenantDropsUnattributed.Set(s.UnattributedTenantDrops);
        foreach ((string field, SnapshotCounter family) in _outcomes)
            family.Set((ulong)typeof(WorkerCounters).GetField(field)!.GetValue(s.Sum)!);
        foreach (RemoteHost host in s.Hosts)
        {
            int i = host.Index;
            _remoteHostInfo.Set(1, host.Name, Ipv4.Format(host.Vtep), host.Tunnel.ToString().ToLowerInvariant());
            _tunnelEncap.Set(s.Sum.TunnelEncap[i], host.Name);
            _tunnelDecap.Set(s.Sum.TunnelDecap[i], host.Name);
            _tunnelGeneveOptions.Set(s.Sum.TunnelGeneveOptions[i], host.Name);
            _tunnelGeneveCritical.Set(s.Sum.TunnelGeneveCriticalOptions[i], host.Name);
        }
        foreach (NeighbourEntry entry in inputs.Neighbours)
        {
            string ip = Ipv4.Format(entry.Ip);
            _neighbourState.Set(1, ip, entry.State.ToString().ToLowerInvariant());
            _neighbourAge.Set(entry.Age.TotalSeconds, ip);
        }
        foreach (WorkerSample w in s.Workers)
        {
            string[] labels = [w.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), w.Core.ToString(System.Globalization.CultureInfo.InvariantCulture)];
            _workerPolls.Set(w.Polls, labels);
            _workerPackets.Set(w.Packets, labels);
            _workerBusy.Set(s.TscHz == 0 ? 0 : (double)w.BusyCycles / s.TscHz, labels);
            _workerIdle.Set(s.TscHz == 0 ? 0 : (double)w.IdleCycles / s.TscHz, labels);
            _workerAllocated.Set(w.AllocatedBytes, labels);
            _workerJit.Set(w.JitMethods, labels);
        }
        foreach (TenantFlows tenant in inputs.Flows ?? [])
            UpdateTenant(tenant, inputs.TenantNames);
        _gcCollections.Set(s.Gen0Collections, "0");
        _gcCollections.Set(s.Gen1Collections, "1");
        _gcCollections.Set(s.Gen2Collections, "2");
        _gcPause.Set(s.GcPauseTotal.TotalSeconds);
        foreach (SnapshotFamily family in _families)
            family.EndScrape();
    }

    private void UpdatePort(PortSample port)
    {
        string name = port.Spec.Name;
        _portInfo.Set(1, name, port.Spec.Role.ToString().ToLowerInvariant(), port.Vm ?? "", port.Tenant ?? "", port.Spec.VhostUser is null ? "ethdev" : "vhost_user");
        _portRx.Set(port.Rx, name);
        _portTx.Set(port.Tx, name);
        _portDropped.Set(port.Drops, name);
        SetNonZero(_portDroppedByReason, name, port.DropReasons);
        for (int q = 0; q < port.Queues.Length; q++)
        {
            string queue = q.ToString(System.Globalization.CultureInfo.InvariantCulture);
            _queueRx.Set(port.Queues[q].Rx, name, queue);
            _queueTx.Set(port.Queues[q].Tx, name, queue);
            _queueDropped.Set(port.Queues[q].Drops, name, queue);
        }
        if (port.Eth is not { } eth)
            return;
        _ethRxPackets.Set(eth.Ipackets, name);
        _ethTxPackets.Set(eth.Opackets, name);
        _ethRxBytes.Set(eth.Ibytes, name);
        _ethTxBytes.Set(eth.Obytes, name);
        _ethRxMissed.Set(eth.Imissed, name);
        _ethRxErrors.Set(eth.Ierrors, name);
        _ethTxErrors.Set(eth.Oerrors, name);
        _ethRxNoMbuf.Set(eth.RxNoMbuf, name);
    }

    /// <summary>A tenant's totals and top flows. Frames no tenant claimed (an unknown VNI) are drops, counted by reason; they get no series here.</summary>
    private void UpdateTenant(TenantFlows tenant, IReadOnlyList<string> names)
    {
        if (tenant.Tenant < 0 || tenant.Tenant >= names.Count)
            return;
        string name = names[tenant.Tenant];
        _tenantPackets.Set(tenant.Packets, name);
        _tenantBytes.Set(tenant.Bytes, name);
        _tenantOtherPackets.Set(tenant.Other.Packets, name);
        _tenantOtherBytes.Set(tenant.Other.Bytes, name);
        foreach (FlowRecord flow in tenant.Top)
        {
            FlowEndpoints ends = FlowReport.Endpoints(flow.Key);
            string[] labels =
            [
                name, flow.Key.Vni.ToString(System.Globalization.CultureInfo.InvariantCulture), ends.Protocol ?? ends.EtherType!, ends.Source, ends.Destination,
                ends.SourcePort?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
                ends.DestinationPort?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
            ];
            _flowPackets.Set(flow.Packets, labels);
            _flowBytes.Set(flow.Bytes, labels);
        }
    }

    /// <summary>One series per reason that dropped any frame, labelled (<paramref name="owner"/>, reason).</summary>
    private static void SetNonZero(SnapshotCounter family, string owner, ulong[] byReason)
    {
        foreach ((string label, ulong frames) in DropReasons.Hits(byReason))
            family.Set(frames, owner, label);
    }

    private SnapshotCounter Counter(string name, string help, params string[] labels) =>
        Add(new SnapshotCounter(_factory.CreateCounter(name, help, labels)));

    private SnapshotGauge Gauge(string name, string help, params string[] labels) =>
        Add(new SnapshotGauge(_factory.CreateGauge(name, help, labels)));

    private T Add<T>(T family) where T : SnapshotFamily
    {
        _families.Add(family);
        return family;
    }
}
