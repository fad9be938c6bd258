// The control side's view of the workers' flow tables (the control socket's "flows" op,
// `vswitchd ctl flows`, docs/control-socket.md): each worker's flows merged (a flow whose frames
// arrive on queues of two workers is counted by both), grouped by tenant, the largest N by bytes
// named one by one and everything else of the tenant in "other": its flows past the N, and the
// flows that left a table (FlowTable's aggregate). A tenant's flows plus its "other" are all it
// sent and received through this host since its tables were last reset. Allocates: control side only.
using System.Text.Json.Nodes;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Protocols;

namespace VSwitch.Dataplane.Flows;

/// <summary>One tenant's share of the flow tables: its largest flows, the rest summed, and all its frames.</summary>
/// <param name="Tenant">The tenant's index; -1 for frames no tenant claimed.</param>
/// <param name="Other">Flows past the top N and flows that left the tables (estimates when sampled, as the flows are).</param>
/// <param name="Packets">Every frame of the tenant: exact, whatever the sample rate.</param>
public sealed record TenantFlows(int Tenant, IReadOnlyList<FlowRecord> Top, FlowAggregate Other, ulong Packets, ulong Bytes);

/// <summary>A flow's ends (FlowReport.Endpoints): Protocol for IP, else EtherType; ports for TCP and UDP only.</summary>
public readonly record struct FlowEndpoints(string? Protocol, string? EtherType, string Source, string Destination, int? SourcePort, int? DestinationPort);

/// <summary>
/// FlowReport.Collect with buffers kept from one call to the next. /metrics collects once a
/// second, and fresh buffers each time were most of what a scrape allocated (about 1 MB with a
/// thousand flows): a garbage collection, which suspends the workers too, every second or two.
/// One call at a time.
/// </summary>
public sealed class FlowCollector
{
    private readonly List<FlowRecord> _read = [];
    private readonly Dictionary<FlowKey, FlowRecord> _merged = [];
    private readonly List<(int Tenant, FlowAggregate Aggregate, (ulong Packets, ulong Bytes) Total)> _gone = [];
    private readonly Dictionary<int, FlowAggregate> _others = [];
    private readonly Dictionary<int, (ulong Packets, ulong Bytes)> _totals = [];
    private readonly Dictionary<int, List<FlowRecord>> _byTenant = [];

    /// <inheritdoc cref="FlowReport.Collect"/>
    public List<TenantFlows> Collect(IEnumerable<FlowTable> tables, int layout, int tenantCount, int top, int? onlyTenant = null)
    {
        _merged.Clear();
        _others.Clear();
        _totals.Clear();
        foreach (List<FlowRecord> flows in _byTenant.Values)
            flows.Clear();
        foreach (FlowTable table in tables)
        {
            if (table.Layout != layout)
                continue;
            table.Read(_read);
            _gone.Clear();
            for (int tenant = -1; tenant < tenantCount; tenant++)
            {
                FlowAggregate aggregate = table.Aggregate(tenant);
                (ulong Packets, ulong Bytes) total = table.Totals(tenant);
                if (aggregate.Packets != 0 || total.Packets != 0)
                    _gone.Add((tenant, aggregate, total));
            }
            // The worker reset its table while it was read (a tenant left): what was read mixes two tenant mappings.
            if (table.Layout != layout)
                continue;
            foreach (FlowRecord flow in _read)
            {
                _merged[flow.Key] = _merged.TryGetValue(flow.Key, out FlowRecord seen)
                    ? new FlowRecord(flow.Key, seen.Packets + flow.Packets, seen.Bytes + flow.Bytes,
                        Math.Min(seen.FirstSeen, flow.FirstSeen), Math.Max(seen.LastSeen, flow.LastSeen), seen.DropReasons | flow.DropReasons)
                    : flow;
            }
            foreach ((int tenant, FlowAggregate aggregate, (ulong packets, ulong bytes)) in _gone)
            {
                _others[tenant] = FlowReport.Add(_others.GetValueOrDefault(tenant), aggregate);
                (ulong Packets, ulong Bytes) sum = _totals.GetValueOrDefault(tenant);
                _totals[tenant] = (sum.Packets + packets, sum.Bytes + bytes);
            }
        }

        foreach (FlowRecord flow in _merged.Values)
        {
            if (!_byTenant.TryGetValue(flow.Key.Tenant, out List<FlowRecord>? flows))
                _byTenant[flow.Key.Tenant] = flows = [];
            flows.Add(flow);
        }
        var report = new List<TenantFlows>();
        foreach (int tenant in onlyTenant is int only ? [only] : _byTenant.Where(t => t.Value.Count > 0).Select(t => t.Key).Union(_others.Keys))
        {
            List<FlowRecord> flows = _byTenant.GetValueOrDefault(tenant) ?? [];
            flows.Sort(static (a, b) => b.Bytes != a.Bytes ? b.Bytes.CompareTo(a.Bytes) : b.Packets.CompareTo(a.Packets));
            FlowAggregate other = _others.GetValueOrDefault(tenant);
            for (int i = top; i < flows.Count; i++)
                other = FlowReport.Add(other, new FlowAggregate(flows[i].Packets, flows[i].Bytes, 1));
            (ulong packets, ulong bytes) = _totals.GetValueOrDefault(tenant);
            report.Add(new TenantFlows(tenant, flows.GetRange(0, Math.Min(top, flows.Count)), other, packets, bytes));
        }
        report.Sort(static (a, b) => b.Bytes.CompareTo(a.Bytes));
        return report;
    }
}

public static class FlowReport
{
    /// <summary>
    /// Per tenant with any traffic (or the one of <paramref name="onlyTenant"/>), its <paramref name="top"/>
    /// largest flows by bytes across <paramref name="tables"/> and the rest summed, largest tenant first.
    /// Tables whose layout is not <paramref name="layout"/> (a worker that has not yet reset after a tenant left) are skipped.
    /// </summary>
    public static List<TenantFlows> Collect(IEnumerable<FlowTable> tables, int layout, int tenantCount, int top, int? onlyTenant = null) =>
        new FlowCollector().Collect(tables, layout, tenantCount, top, onlyTenant);

    internal static FlowAggregate Add(FlowAggregate a, FlowAggregate b) => new(a.Packets + b.Packets, a.Bytes + b.Bytes, a.Flows + b.Flows);

    /// <summary>
    /// The report as the control socket sends it. Times are seconds before <paramref name="now"/>,
    /// in the clock the workers stamp flows with, which ticks <paramref name="ticksPerSecond"/> a second.
    /// </summary>
    public static JsonObject ToJson(IEnumerable<TenantFlows> report, IReadOnlyList<string> tenantNames, int top, int sampleRate, long now, double ticksPerSecond)
    {
        var tenants = new JsonArray();
        foreach (TenantFlows tenant in report)
        {
            var flows = new JsonArray();
            foreach (FlowRecord flow in tenant.Top)
                flows.Add(Flow(flow, now, ticksPerSecond));
            tenants.Add(new JsonObject
            {
                ["tenant"] = tenant.Tenant >= 0 && tenant.Tenant < tenantNames.Count ? tenantNames[tenant.Tenant] : null,
                ["packets"] = tenant.Packets,
                ["bytes"] = tenant.Bytes,
                ["flows"] = flows,
                ["other"] = new JsonObject { ["packets"] = tenant.Other.Packets, ["bytes"] = tenant.Other.Bytes, ["flows"] = tenant.Other.Flows },
            });
        }
        return new JsonObject { ["top"] = top, ["sample_rate"] = sampleRate, ["tenants"] = tenants };
    }

    private static JsonObject Flow(FlowRecord flow, long now, double ticksPerSecond)
    {
        FlowEndpoints ends = Endpoints(flow.Key);
        var json = new JsonObject { ["vni"] = flow.Key.Vni };
        if (ends.Protocol is { } protocol)
            json["protocol"] = protocol;
        else
            json["ether_type"] = ends.EtherType;
        json["source"] = ends.Source;
        json["destination"] = ends.Destination;
        if (ends.SourcePort is int sourcePort)
        {
            json["source_port"] = sourcePort;
            json["destination_port"] = ends.DestinationPort;
        }
        json["packets"] = flow.Packets;
        json["bytes"] = flow.Bytes;
        json["first_seen_s_ago"] = Math.Round(Math.Max(0, now - flow.FirstSeen) / ticksPerSecond, 3);
        json["last_seen_s_ago"] = Math.Round(Math.Max(0, now - flow.LastSeen) / ticksPerSecond, 3);
        var drops = new JsonArray();
        for (int reason = 0; reason < DropReasons.Count; reason++)
        {
            if ((flow.DropReasons & 1UL << reason) != 0)
                drops.Add(DropReasons.Label((DropReason)reason));
        }
        json["drops"] = drops;
        return json;
    }

    /// <summary>
    /// A flow's ends as people read them: for IP the protocol, addresses and (TCP and UDP) ports;
    /// for anything else the EtherType and MAC addresses.
    /// </summary>
    public static FlowEndpoints Endpoints(in FlowKey key)
    {
        if (key.EtherType is not (Ethernet.TypeIpv4 or Ethernet.TypeIpv6))
            return new(null, $"0x{key.EtherType:x4}", MacAddress.Format((ulong)key.Source), MacAddress.Format((ulong)key.Destination), null, null);
        bool ports = key.Protocol is Ipv4.ProtocolTcp or Ipv4.ProtocolUdp;
        return new(Protocol(key.Protocol), null, Address(key.EtherType, key.Source), Address(key.EtherType, key.Destination),
            ports ? key.SourcePort : null, ports ? key.DestinationPort : null);
    }

    /// <summary>The IANA protocol number's keyword for the common ones, else the number.</summary>
    public static string Protocol(byte protocol) => protocol switch
    {
        Ipv4.ProtocolTcp => "tcp",
        Ipv4.ProtocolUdp => "udp",
        1 => "icmp",
        Ipv6.NextHeaderIcmpv6 => "ipv6-icmp",
        _ => protocol.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static string Address(ushort etherType, UInt128 address) =>
        etherType == Ethernet.TypeIpv4 ? Ipv4.Format((uint)address) : Ipv6.Format(address);
}
