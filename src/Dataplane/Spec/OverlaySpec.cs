// The overlay as configured (docs/overlay.md): this host's VTEP on the underlay behind the uplink
// port, the remote hosts it tunnels to, and how it reaches them. Validated by SpecValidator and
// compiled into OverlayTables; nothing here is read on the packet path.
using System.Collections.Immutable;
using VSwitch.Dataplane.Protocols;

namespace VSwitch.Dataplane.Spec;

public enum TunnelType
{
    /// <summary>RFC 7348, UDP port 4789.</summary>
    Vxlan,
    /// <summary>RFC 8926, UDP port 6081.</summary>
    Geneve,
}

/// <summary>A neighbour entry that never ages (overlay.static_neighbours): for benchmarks and replayed captures.</summary>
public sealed record StaticNeighbourSpec(uint Ip, ulong Mac);

/// <param name="GeneveOptions">Options added on encapsulation toward this host, and the only critical options accepted from it.</param>
public sealed record RemoteHostSpec(string Name, uint Vtep, TunnelType Tunnel, ImmutableArray<GeneveOption> GeneveOptions);

/// <param name="Uplink">Name of the port with role uplink that faces the underlay.</param>
/// <param name="Vtep">This host's VTEP IPv4 address.</param>
/// <param name="PrefixLength">The underlay prefix the VTEP sits in: remote VTEPs inside it are reached directly.</param>
/// <param name="Mac">Source MAC of outer frames; null: the uplink port's own MAC.</param>
/// <param name="Gateway">Next hop toward remote VTEPs outside the prefix; null: there must be none.</param>
public sealed record OverlaySpec(
    string Uplink, uint Vtep, int PrefixLength, ulong? Mac, uint? Gateway, int Ttl, int NeighbourTimeoutSeconds,
    ImmutableArray<StaticNeighbourSpec> StaticNeighbours, ImmutableArray<RemoteHostSpec> RemoteHosts)
{
    public const int DefaultTtl = 64;
    public const int DefaultNeighbourTimeoutSeconds = 300;
    /// <summary>Per-tunnel counters are arrays of this size, indexed by remote host.</summary>
    public const int MaxRemoteHosts = 64;

    public uint PrefixMask => PrefixLength == 0 ? 0 : uint.MaxValue << (32 - PrefixLength);

    public bool OnLink(uint address) => (address & PrefixMask) == (Vtep & PrefixMask);

    /// <summary>Where frames to a remote VTEP go first: the VTEP itself when on-link, else the gateway.</summary>
    public uint NextHop(uint remoteVtep) => OnLink(remoteVtep) || Gateway is null ? remoteVtep : Gateway.Value;

    /// <summary>Every distinct next hop, in remote-host order: the neighbour table's entries and their indexes.</summary>
    public IReadOnlyList<uint> NextHops() => RemoteHosts.Select(h => NextHop(h.Vtep)).Distinct().ToArray();

    /// <summary>One MAC per next hop (NextHops order) as the static neighbours alone give them; 0 for a next hop to resolve by ARP.</summary>
    public ulong[] StaticNeighbourMacs()
    {
        IReadOnlyList<uint> nextHops = NextHops();
        var macs = new ulong[nextHops.Count];
        for (int i = 0; i < macs.Length; i++)
            macs[i] = StaticNeighbours.FirstOrDefault(n => n.Ip == nextHops[i])?.Mac ?? 0;
        return macs;
    }
}

/// <summary>A VM of a tenant that runs on another host: reached through that host's VTEP.</summary>
public sealed record RemoteVmSpec(string Name, string Tenant, string Host, ulong Mac, ImmutableArray<uint> Ipv4)
{
    /// <summary>May send IPv6 Router Advertisements and Redirects into this host's VMs, as VmSpec.AllowRouting.</summary>
    public bool AllowRouting { get; init; }
}
