// The overlay part of a SwitchTables snapshot: everything the encapsulation and decapsulation
// stages look up, compiled once per snapshot so the hot path only copies and patches. The outer
// headers toward each (tenant, remote host) pair are built here as a template (Ethernet, IPv4,
// UDP, VXLAN or GENEVE with its options) together with the partial IPv4 checksum of its constant
// fields, so encapsulating a frame is one span copy and four small patches.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Collections;
using VSwitch.Dataplane.Spec;

namespace VSwitch.Dataplane.Tables;

/// <summary>A remote VTEP as the decapsulation stage sees it.</summary>
public sealed class RemoteHost
{
    public required int Index { get; init; }
    public required string Name { get; init; }
    public required uint Vtep { get; init; }
    public required TunnelType Tunnel { get; init; }
    /// <summary>The UDP destination port of this host's tunnel type: what its frames must arrive on.</summary>
    public required ushort UdpPort { get; init; }
    /// <summary>Geneve.OptionKey of each option agreed with this host: the critical options we understand from it.</summary>
    public required uint[] KnownOptions { get; init; }
    /// <summary>Index of the next hop toward this host in the neighbour table.</summary>
    public required int NeighbourIndex { get; init; }
}

/// <summary>
/// One (tenant, remote host) pair: where a tenant's frames to that host get their outer headers.
/// What encapsulation reads per frame is copied here (the header length, the host's indexes, the
/// uplink's limit), one load each: following Template, Host and the uplink's binding for them
/// was a chain of dependent loads on every encapsulated frame.
/// </summary>
public sealed class TunnelEndpoint(RemoteHost host, int tenantIndex, uint vni, byte[] template, uint checksumBase, int uplinkMaxFrameLength)
{
    public RemoteHost Host { get; } = host;
    public int TenantIndex { get; } = tenantIndex;
    public uint Vni { get; } = vni;
    /// <summary>The outer headers with the next-hop MAC, lengths, checksum and source port left zero.</summary>
    public byte[] Template { get; } = template;
    /// <summary>One's-complement sum of the template's IPv4 header (total length and checksum zero).</summary>
    public uint ChecksumBase { get; } = checksumBase;
    public int HeaderLength { get; } = template.Length;
    /// <summary>The longest inner frame the uplink carries behind these headers.</summary>
    public int MaxInnerLength { get; } = uplinkMaxFrameLength - template.Length;
    /// <summary>Host.Index: the per-remote-host counters' index.</summary>
    public int HostIndex { get; } = host.Index;
    /// <summary>Host.NeighbourIndex: the next hop's slot in the neighbour table.</summary>
    public int NeighbourIndex { get; } = host.NeighbourIndex;
}

/// <summary>A tenant's VM on another host.</summary>
public sealed class RemoteVm
{
    public required string Name { get; init; }
    public required ulong Mac { get; init; }
    public required uint[] Ipv4 { get; init; }
    public required TunnelEndpoint Endpoint { get; init; }
    public bool AllowRouting { get; init; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool HasIpv4(uint address) => ShortLists.Contains(Ipv4, address);
}

public sealed class OverlayTables
{
    public required OverlaySpec Spec { get; init; }
    public required PortBinding Uplink { get; init; }
    public required uint Vtep { get; init; }
    /// <summary>Source MAC of outer frames and the MAC our VTEP address answers ARP with.</summary>
    public required ulong Mac { get; init; }
    public required RemoteHost[] Hosts { get; init; }
    /// <summary>HostKey(outer source address) -> remote host.</summary>
    public required ULongMap<RemoteHost> HostsByVtep { get; init; }
    /// <summary>VniKey(vni) -> tenant index.</summary>
    public required ULongMap<int> TenantByVni { get; init; }
    /// <summary>
    /// TunnelKey(remote VTEP, VNI, tunnel type) -> the (tenant, host) endpoint, for every host that
    /// runs a remote VM of the tenant: what decapsulation accepts, found in one lookup.
    /// </summary>
    public required ULongMap<TunnelEndpoint> Tunnels { get; init; }
    /// <summary>SwitchTables.MacKey(tenant, MAC) -> the remote VM with that MAC.</summary>
    public required ULongMap<RemoteVm> RemoteMacs { get; init; }
    /// <summary>Per tenant, the endpoints of the hosts that run its remote VMs: head-end replication targets.</summary>
    public required TunnelEndpoint[][] FloodEndpoints { get; init; }
    /// <summary>HostKey(next hop address) -> neighbour index, for learning from ARP on the uplink.</summary>
    public required ULongMap<int> NeighbourByIp { get; init; }
    /// <summary>
    /// The resolved MAC of each next hop (0: unresolved), written by the neighbour table on the
    /// control side and read by workers with Volatile.Read. The array outlives snapshots.
    /// </summary>
    public required ulong[] NeighbourMacs { get; init; }

    public static ulong HostKey(uint ipv4) => 1UL << 32 | ipv4;

    public static ulong VniKey(uint vni) => 1UL << 32 | vni;

    /// <summary>Bit 63 (never 0) | tunnel type at bit 56 | VTEP (32 bits) | VNI (24 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong TunnelKey(uint vtep, uint vni, TunnelType tunnel) =>
        1UL << 63 | (ulong)tunnel << 56 | (ulong)vtep << 24 | (vni & 0xFF_FFFF);

    /// <summary>Compiles the overlay of a validated spec; null when the spec has none or its uplink is not attached.</summary>
    public static OverlayTables? Build(SwitchSpec spec, PortBinding?[] ports, ulong uplinkMac, ulong[] neighbourMacs)
    {
        OverlaySpec? overlay = spec.Overlay;
        PortBinding? uplink = ports.FirstOrDefault(p => p is not null && p.Name == overlay?.Uplink);
        if (overlay is null || uplink is null)
            return null;
        ulong mac = overlay.Mac ?? uplinkMac;
        IReadOnlyList<uint> nextHops = overlay.NextHops();
        if (neighbourMacs.Length < nextHops.Count)
            throw new ArgumentException($"{neighbourMacs.Length} neighbour slots for {nextHops.Count} next hops", nameof(neighbourMacs));

        var hosts = overlay.RemoteHosts.Select((h, i) => new RemoteHost
        {
            Index = i,
            Name = h.Name,
            Vtep = h.Vtep,
            Tunnel = h.Tunnel,
            UdpPort = h.Tunnel == TunnelType.Vxlan ? Vxlan.UdpPort : Geneve.UdpPort,
            KnownOptions = h.GeneveOptions.Select(o => Geneve.OptionKey(o.Class, o.Type)).ToArray(),
            NeighbourIndex = IndexOf(nextHops, overlay.NextHop(h.Vtep)),
        }).ToArray();
        var hostByName = hosts.ToDictionary(h => h.Name, StringComparer.Ordinal);

        var tenantIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int t = 0; t < spec.Tenants.Length; t++)
            tenantIndex.TryAdd(spec.Tenants[t].Name, t);

        var endpoints = new Dictionary<(int Tenant, int Host), TunnelEndpoint>();
        var flood = spec.Tenants.Select(_ => new List<TunnelEndpoint>()).ToArray();
        var remoteMacs = new List<KeyValuePair<ulong, RemoteVm>>();
        foreach (RemoteVmSpec vm in spec.RemoteVms)
        {
            int tenant = tenantIndex[vm.Tenant];
            RemoteHost host = hostByName[vm.Host];
            if (!endpoints.TryGetValue((tenant, host.Index), out TunnelEndpoint? endpoint))
            {
                endpoint = BuildEndpoint(overlay, overlay.RemoteHosts[host.Index], host, tenant, spec.Tenants[tenant].Vni ?? 0, mac, uplink.MaxFrameLength);
                endpoints.Add((tenant, host.Index), endpoint);
                flood[tenant].Add(endpoint);
            }
            remoteMacs.Add(new(SwitchTables.MacKey(tenant, vm.Mac), new RemoteVm { Name = vm.Name, Mac = vm.Mac, Ipv4 = [.. vm.Ipv4], Endpoint = endpoint, AllowRouting = vm.AllowRouting }));
        }

        return new OverlayTables
        {
            Spec = overlay,
            Uplink = uplink,
            Vtep = overlay.Vtep,
            Mac = mac,
            Hosts = hosts,
            HostsByVtep = new ULongMap<RemoteHost>(hosts.Select(h => new KeyValuePair<ulong, RemoteHost>(HostKey(h.Vtep), h)).ToArray()),
            TenantByVni = new ULongMap<int>(spec.Tenants.Select((t, i) => new KeyValuePair<ulong, int>(VniKey(t.Vni ?? 0), i)).ToArray()),
            Tunnels = new ULongMap<TunnelEndpoint>(endpoints.Values.Select(e => new KeyValuePair<ulong, TunnelEndpoint>(TunnelKey(e.Host.Vtep, e.Vni, e.Host.Tunnel), e)).ToArray()),
            RemoteMacs = new ULongMap<RemoteVm>(remoteMacs),
            FloodEndpoints = flood.Select(list => list.ToArray()).ToArray(),
            NeighbourByIp = new ULongMap<int>(nextHops.Select((ip, i) => new KeyValuePair<ulong, int>(HostKey(ip), i)).ToArray()),
            NeighbourMacs = neighbourMacs,
        };
    }

    private static int IndexOf(IReadOnlyList<uint> list, uint value)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] == value)
                return i;
        }
        throw new ArgumentException($"{Ipv4.Format(value)} is no next hop");
    }

    private static TunnelEndpoint BuildEndpoint(OverlaySpec overlay, RemoteHostSpec spec, RemoteHost host, int tenant, uint vni, ulong sourceMac, int uplinkMaxFrameLength)
    {
        int tunnelLength = host.Tunnel == TunnelType.Vxlan ? Vxlan.HeaderLength : Geneve.HeaderLength + Geneve.OptionsLength(spec.GeneveOptions);
        byte[] template = new byte[Udp.TunnelOuterLength + tunnelLength];
        Span<byte> t = template;
        MacAddress.Write(t.Slice(Ethernet.SourceOffset, 6), sourceMac);
        BinaryPrimitives.WriteUInt16BigEndian(t.Slice(Ethernet.EtherTypeOffset), Ethernet.TypeIpv4);
        Span<byte> ip = t.Slice(Ethernet.HeaderLength, Ipv4.MinHeaderLength);
        ip[0] = Ipv4.VersionIhlNoOptions;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4.FlagsFragmentOffset), Ipv4.DontFragment);
        ip[Ipv4.TtlOffset] = (byte)overlay.Ttl;
        ip[Ipv4.ProtocolOffset] = Ipv4.ProtocolUdp;
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(Ipv4.SourceOffset), overlay.Vtep);
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(Ipv4.DestinationOffset), host.Vtep);
        Span<byte> udp = t.Slice(Ethernet.HeaderLength + Ipv4.MinHeaderLength, Udp.HeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(Udp.DestinationPortOffset), host.UdpPort);
        Span<byte> tunnel = t.Slice(Udp.TunnelOuterLength);
        if (host.Tunnel == TunnelType.Vxlan)
            Vxlan.Write(tunnel, vni);
        else
            Geneve.Write(tunnel, vni, spec.GeneveOptions);
        return new TunnelEndpoint(host, tenant, vni, template, Ipv4.OnesComplementSum(ip), uplinkMaxFrameLength);
    }
}
