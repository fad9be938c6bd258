// The control socket's operations (docs/control-socket.md): reading state and counters, and
// changing ports and VMs while traffic flows. Every change builds a whole new spec, validates
// it with the same rules as the config file, and swaps in new tables; a bad request changes
// nothing and gets an error naming the field. Reads that touch ports (status, counters, list)
// hold the same lock as changes, so none reads a port's ids or DPDK stats while it is detached.
using System.Collections.Immutable;
using System.Text.Json.Nodes;
using VSwitch.Dataplane.Config;
using VSwitch.Common.Control;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Flows;
using VSwitch.Dataplane.Interop;
using VSwitch.Dataplane.Metrics;
using VSwitch.Dataplane.Overlay.Neighbours;
using VSwitch.Dataplane.Ports;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Vhost;
using VSwitch.Dataplane.Workers;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;
using static VSwitch.Dataplane.Interop.Interop;

namespace VSwitch.Dataplane.Daemon;

public sealed partial class Vswitchd
{
    /// <summary>The control socket's ops, in the order docs/control-socket.md lists them.</summary>
    private ControlOperations ControlOps()
    {
        var ops = new ControlOperations()
            .Add("status", (_, ct) => UnderChangesLock(StatusReport, ct))
            .Add("counters", (_, ct) => UnderChangesLock(CountersReport, ct))
            .Add("list", (_, ct) => UnderChangesLock(ListReport, ct))
            .Add("neighbours", NeighboursReport)
            .Add("flows", (request, _) => ValueTask.FromResult(FlowsReport(request)));
        foreach (string op in (string[])["add-port", "remove-port", "add-vm", "remove-vm", "add-remote-vm", "remove-remote-vm"])
            ops.Add(op, (request, ct) => ChangeAsync(op, request, ct));
        return ops.Add("shutdown", () =>
        {
            // Answer first; the daemon stops after the reply has gone out.
            _ = Task.Delay(100, CancellationToken.None).ContinueWith(_ => _shutdown.Cancel(), TaskScheduler.Default);
            return new JsonObject();
        });
    }

    private async ValueTask<JsonObject> ChangeAsync(string op, JsonObject request, CancellationToken ct)
    {
        await _changes.WaitAsync(ct);
        try
        {
            if (_state != DaemonState.Running)
                throw new ControlException($"{op}: vswitchd is {_state.ToString().ToLowerInvariant()}, not running");
            WithFieldErrors(() => Change(op, request));
            return new JsonObject { ["generation"] = Interlocked.Read(ref _generation) };
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>Runs <paramref name="read"/> while no change (and no shutdown) is stopping or detaching ports.</summary>
    private async ValueTask<T> UnderChangesLock<T>(Func<T> read, CancellationToken ct)
    {
        await _changes.WaitAsync(ct);
        try
        {
            return read();
        }
        finally
        {
            _changes.Release();
        }
    }

    private void Change(string op, JsonObject request)
    {
        SwitchSpec spec = Tables.Spec;
        switch (op)
        {
            case "add-port":
            {
                PortSpec port = AllowedAtRunTime(ControlRequests.Port(request), spec);
                SwitchSpec next = spec with { Ports = spec.Ports.Add(port) };
                Validate(next);
                if (MbufBudget.Shortfall(next.Ports, _config.Mbufs, _workers.Length) is { } shortfall)
                    throw new ControlException($"add-port: dpdk.mbufs: {shortfall}");
                if (port.VhostUser is null && rte_dev_probe(port.Devargs) < 0)
                    throw new ControlException($"add-port: devargs: DPDK could not create '{port.Devargs}': {RteStrError(RteErrno)}");
                try
                {
                    AttachPort(port);
                }
                catch (PortSetupException e)
                {
                    if (port.VhostUser is null)
                        _ = rte_eal_hotplug_remove("vdev", port.DeviceName);
                    throw new ControlException($"add-port: {e.Message}");
                }
                Publish(next);
                break;
            }
            case "remove-port":
            {
                string name = ControlRequests.Name(request);
                PortSpec port = spec.Ports.FirstOrDefault(p => p.Name == name)
                    ?? throw new ControlException($"remove-port: name: no port named '{name}'");
                if (spec.Vms.FirstOrDefault(vm => vm.Port == name) is { } bound)
                    throw new ControlException($"remove-port: name: port '{name}' is bound to VM '{bound.Name}'; remove the VM first");
                // Unpublish first: once every worker has moved on, none can touch the port. If one
                // does not move on in time, Publish puts the old tables back and the port stays,
                // whole: detaching it under a worker that may still poll it would crash.
                Publish(spec with { Ports = spec.Ports.Remove(port) });
                DetachPort(port);
                break;
            }
            case "add-vm":
            {
                (VmSpec vm, uint? vni) = ControlRequests.Vm(request);
                SwitchSpec next = SpecChanges.AddVm(spec, vm, vni);
                Validate(next);
                Publish(next);
                break;
            }
            case "add-remote-vm":
            {
                RemoteVmSpec vm = ControlRequests.RemoteVm(request);
                if (!spec.Tenants.Any(t => t.Name == vm.Tenant))
                    throw new ControlException($"add-remote-vm: tenant: '{vm.Tenant}' is not a configured tenant (add a local VM with its vni first)");
                SwitchSpec next = spec with { RemoteVms = spec.RemoteVms.Add(vm) };
                Validate(next);
                Publish(next);
                break;
            }
            case "remove-remote-vm":
            {
                string name = ControlRequests.Name(request);
                RemoteVmSpec vm = spec.RemoteVms.FirstOrDefault(v => v.Name == name)
                    ?? throw new ControlException($"remove-remote-vm: name: no remote VM named '{name}'");
                Publish(spec with { RemoteVms = spec.RemoteVms.Remove(vm) });
                break;
            }
            case "remove-vm":
            {
                string name = ControlRequests.Name(request);
                VmSpec vm = spec.Vms.FirstOrDefault(v => v.Name == name)
                    ?? throw new ControlException($"remove-vm: name: no VM named '{name}'");
                Publish(SpecChanges.RemoveVm(spec, vm));
                break;
            }
        }
    }

    /// <summary>The port with its devargs as <see cref="RuntimePortPolicy"/> passes them; every port added while running goes through here.</summary>
    private PortSpec AllowedAtRunTime(PortSpec port, SwitchSpec spec)
    {
        try
        {
            return port.VhostUser is { } vhost
                ? port with { VhostUser = vhost with { Socket = _config.RuntimePorts.CheckVhostSocket(vhost.Socket) } }
                : port with { Devargs = _config.RuntimePorts.Check(port, spec) };
        }
        catch (PortPolicyException e)
        {
            throw new ControlException($"add-port: {e.Message}");
        }
    }

    private static void Validate(SwitchSpec spec)
    {
        IReadOnlyList<string> errors = SpecValidator.Validate(spec);
        if (errors.Count > 0)
            throw new ControlException(string.Join("; ", errors));
    }

    private JsonObject StatusReport() => new()
    {
        ["state"] = _state.ToString().ToLowerInvariant(),
        ["uptime_s"] = Math.Round(_uptime.Elapsed.TotalSeconds, 3),
        ["generation"] = Interlocked.Read(ref _generation),
        ["ports"] = Tables.Spec.Ports.Length,
        ["vms"] = Tables.Spec.Vms.Length,
        ["remote_vms"] = Tables.Spec.RemoteVms.Length,
        ["workers"] = _workers.Length,
    };

    /// <summary>The largest flows per tenant, and the rest summed (Flows/FlowReport.cs); reads the workers' tables while they run.</summary>
    private JsonObject FlowsReport(JsonObject request)
    {
        (string? tenantName, int top) = WithFieldErrors(() => ControlRequests.Flows(request, _config.Flows.Top));
        if (!_config.Flows.Enabled)
            throw new ControlException("flows: flow accounting is off (flows.enabled is false in the configuration)");
        SwitchTables tables = Tables;
        int? tenant = null;
        if (tenantName is not null)
        {
            int index = Array.IndexOf(tables.Tenants, tenantName);
            tenant = index >= 0 ? index : throw new ControlException($"tenant: no tenant named '{tenantName}'");
        }
        List<TenantFlows> report = FlowReport.Collect(_workers.Select(w => w.Flows!), tables.TenantLayout, tables.Tenants.Length, top, tenant);
        return FlowReport.ToJson(report, tables.Tenants, top, _config.Flows.SampleRate, (long)vsw_rdtsc(), rte_get_tsc_hz());
    }

    /// <summary>Runs <paramref name="read"/>; the errors of a bad field (ConfigException, one per field) become the request's error.</summary>
    private static T WithFieldErrors<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (ConfigException e)
        {
            throw new ControlException(string.Join("; ", e.Errors));
        }
    }

    private static void WithFieldErrors(Action change) => WithFieldErrors(() =>
    {
        change();
        return true;
    });

    /// <summary>The uplink's neighbour table: one entry per next hop toward the remote VTEPs.</summary>
    private JsonObject NeighboursReport()
    {
        var entries = new JsonArray();
        foreach (NeighbourEntry entry in _neighbours?.Entries(_uptime.Elapsed) ?? [])
        {
            entries.Add(new JsonObject
            {
                ["ip"] = Ipv4.Format(entry.Ip),
                ["mac"] = entry.Mac == 0 ? null : MacAddress.Format(entry.Mac),
                ["state"] = entry.State.ToString().ToLowerInvariant(),
                ["age_s"] = Math.Round(entry.Age.TotalSeconds, 3),
            });
        }
        return new JsonObject { ["neighbours"] = entries };
    }

    /// <summary>The spec as the add ops take it, and beside it the state of every vhost-user port's frontend.</summary>
    private JsonObject ListReport()
    {
        JsonObject list = SpecJson.Write(Tables.Spec);
        var vhost = new JsonObject();
        foreach ((string name, VhostPort port) in _vhostPorts.OrderBy(p => p.Key, StringComparer.Ordinal))
            vhost[name] = CountersJson.VhostState(port);
        list["vhost_user"] = vhost;
        return list;
    }

    /// <summary>The workers' counts of each of the port's queues; zeros before there are workers.</summary>
    private static QueueCounts[] QueueCountsOf(WorkerCounters sum, ushort port, int queueCount)
    {
        var counts = new QueueCounts[queueCount];
        for (int q = 0; q < queueCount && sum.QueueRx.Length > 0; q++)
        {
            int slot = SwitchTables.QueueSlot(port, q);
            counts[q] = new QueueCounts(sum.QueueRx[slot], sum.QueueTx[slot], sum.QueueDrops[slot]);
        }
        return counts;
    }

    /// <summary>The workers' drops at the port, by reason (indexed by DropReason); zeros before there are workers.</summary>
    private static ulong[] DropReasonsOf(WorkerCounters sum, ushort port) =>
        port < sum.Ports ? sum.PortDropsOf(port) : new ulong[DropReasons.Count];

    /// <summary>The port's drops by reason since it was attached.</summary>
    private ulong[] DropReasonsSinceAttach(WorkerCounters sum, string name, ushort port)
    {
        ulong[] now = DropReasonsOf(sum, port);
        if (_atAttach.TryGetValue(name, out var attached))
        {
            for (int r = 0; r < now.Length; r++)
                now[r] -= attached.DropReasons[r];
        }
        return now;
    }

    /// <summary>Each queue's counts since the port was attached (an id reused by a later port starts at zero).</summary>
    private QueueCounts[] QueueCountsSinceAttach(WorkerCounters sum, string name, ushort port, int queueCount)
    {
        QueueCounts[] now = QueueCountsOf(sum, port, queueCount);
        QueueCounts[] atAttach = _atAttach.TryGetValue(name, out var attached) ? attached.Counts : new QueueCounts[queueCount];
        return [.. now.Select((c, q) => new QueueCounts(c.Rx - atAttach[q].Rx, c.Tx - atAttach[q].Tx, c.Drops - atAttach[q].Drops))];
    }

    /// <summary>
    /// Every counter, read once while the workers run: what the counters op and /metrics report.
    /// Reads ports' DPDK stats: the caller holds the changes lock.
    /// </summary>
    /// <param name="sumInto">Reused for the workers' sum (WorkerCounters.Sum); null: a new one.</param>
    internal CountersSnapshot TakeSnapshot(WorkerCounters? sumInto = null)
    {
        // Each worker's packet count is read before the outcome counters, so while traffic flows
        // the outcomes in a report never lag behind its packet count (readers compare the two).
        WorkerSample[] workers = [.. _workers.Select(w => new WorkerSample(w.Index, w.Core,
            Volatile.Read(ref w.Counters.Polls), Volatile.Read(ref w.Counters.Packets), Volatile.Read(ref w.Counters.AllocatedBytes),
            Volatile.Read(ref w.Counters.BusyCycles), Volatile.Read(ref w.Counters.IdleCycles), Volatile.Read(ref w.Counters.JitMethods)))];
        WorkerCounters sum = WorkerCounters.Sum([.. _workers.Select(w => w.Counters)], sumInto);
        SwitchTables tables = Tables;
        var ports = new List<PortSample>();
        foreach (PortSpec port in tables.Spec.Ports)
        {
            if (!_portIds.TryGetValue(port.Name, out ushort id))
                continue;
            // A vhost-user port has no ethdev behind it: the workers' own counts are the port's.
            _vhostPorts.TryGetValue(port.Name, out VhostPort? vhost);
            VmSpec? vm = tables.Spec.Vms.FirstOrDefault(vm => vm.Port == port.Name);
            ports.Add(new PortSample(port, id, vm?.Name, vm?.Tenant,
                QueueCountsSinceAttach(sum, port.Name, id, port.Queues),
                DropReasonsSinceAttach(sum, port.Name, id),
                port.VhostUser is null ? StatsOf(port.Name) : null,
                _atAttach.TryGetValue(port.Name, out var attached) ? attached.Discarded : 0,
                vhost));
        }
        (Dictionary<string, ulong[]> uplinkDrops, ulong unattributed) = CountersSnapshot.TenantUplinkDropsOf(_workers.Select(w => w.TenantUplinkDrops), tables.Spec.Tenants);
        return new CountersSnapshot(workers, sum, ports, tables.Overlay?.Hosts ?? [], rte_get_tsc_hz(),
            GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(),
            uplinkDrops, unattributed);
    }

    /// <summary>Port, drop-reason and forwarding counters summed over workers, plus each worker's own.</summary>
    public JsonObject CountersReport() => CountersJson.Write(TakeSnapshot());

    // What each scrape reuses rather than allocates again (scrapes take turns: MetricsEndpoint).
    private readonly FlowCollector _scrapeFlows = new();
    private WorkerCounters? _scrapeSum;

    /// <summary>What a /metrics scrape reports: the counters, the top flows per tenant (flow accounting on) and the neighbours.</summary>
    private async Task<MetricsInputs> ReadMetricsAsync(CancellationToken ct)
    {
        CountersSnapshot counters = await UnderChangesLock(() => TakeSnapshot(_scrapeSum), ct);
        _scrapeSum = counters.Sum;
        SwitchTables tables = Tables;
        IReadOnlyList<TenantFlows>? flows = _config.Flows.Enabled
            ? _scrapeFlows.Collect(_workers.Select(w => w.Flows!), tables.TenantLayout, tables.Tenants.Length, _config.Flows.Top)
            : null;
        return new MetricsInputs(counters, flows, tables.Tenants, _neighbours?.Entries(_uptime.Elapsed) ?? []);
    }
}

/// <summary>The spec as "list" answers it: the add ops' requests, flat lists with each VM naming its tenant (ControlRequests reads them back).</summary>
internal static class SpecJson
{
    /// <summary>A port as add-port takes it: devargs for a DPDK device, vhost_user for a VM's socket.</summary>
    private static JsonNode PortJson(PortSpec port)
    {
        var json = new JsonObject { ["name"] = port.Name };
        if (port.VhostUser is { } vhost)
            json["vhost_user"] = new JsonObject { ["socket"] = vhost.Socket, ["mode"] = vhost.Mode.ToString().ToLowerInvariant() };
        else
            json["devargs"] = port.Devargs;
        json["role"] = port.Role.ToString().ToLowerInvariant();
        json["mtu"] = port.Mtu;
        json["queues"] = port.Queues;
        return json;
    }

    /// <summary>The spec in the shape the add ops take: flat lists, each VM naming its tenant.</summary>
    public static JsonObject Write(SwitchSpec spec) => new()
    {
        ["tenants"] = new JsonArray([.. spec.Tenants.Select(t => (JsonNode)new JsonObject { ["name"] = t.Name, ["vni"] = t.Vni })]),
        ["ports"] = new JsonArray([.. spec.Ports.Select(PortJson)]),
        ["vms"] = new JsonArray([.. spec.Vms.Select(vm => (JsonNode)new JsonObject
        {
            ["name"] = vm.Name,
            ["tenant"] = vm.Tenant,
            ["port"] = vm.Port,
            ["mac"] = MacAddress.Format(vm.Mac),
            ["ipv4"] = new JsonArray([.. vm.Ipv4.Select(ip => (JsonNode)Ipv4.Format(ip))]),
            ["ipv6"] = new JsonArray([.. vm.Ipv6.Select(ip => (JsonNode)Ipv6.Format(ip))]),
            ["allow_routing"] = vm.AllowRouting,
            ["flood_rate_pps"] = vm.FloodRatePps,
            ["flood_burst"] = vm.FloodBurst,
        })]),
        ["remote_vms"] = new JsonArray([.. spec.RemoteVms.Select(vm => (JsonNode)new JsonObject
        {
            ["name"] = vm.Name,
            ["tenant"] = vm.Tenant,
            ["host"] = vm.Host,
            ["mac"] = MacAddress.Format(vm.Mac),
            ["ipv4"] = new JsonArray([.. vm.Ipv4.Select(ip => (JsonNode)Ipv4.Format(ip))]),
            ["allow_routing"] = vm.AllowRouting,
        })]),
    };
}