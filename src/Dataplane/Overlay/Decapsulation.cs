// The stage for frames from the uplink once an overlay is configured. The uplink is a host on
// the underlay: it answers ARP for its VTEP address, learns its next hops' MACs from ARP (by the
// rule of Neighbours/UnderlayArp.cs), and accepts only VXLAN (RFC 7348) and GENEVE (RFC 8926)
// addressed to its VTEP from a known remote VTEP. The inner frame then passes the same tenant
// checks a local VM's frame does, with the remote VM's binding in place of a port's.
//
// Checks run in this order, and the first failure is the frame's one drop reason:
//   runt -> oversize (uplink MTU) -> ARP (UnderlayArp's checks) or not IPv4
//   -> outer IPv4 malformed -> not UDP -> fragment -> IP options -> IPv4 checksum -> UDP malformed
//   -> UDP port not 4789/6081 -> destination MAC not our VTEP's -> destination not our VTEP
//   -> source not a remote host
//   -> port not that host's tunnel type -> tunnel header (VXLAN I flag; GENEVE version, protocol,
//   option lengths, control flag, unknown critical options) -> VNI unknown -> inner runt
//   -> inner source MAC not a remote VM of the tenant at that host -> the sender checks a local
//   VM's frame goes through (Switching/TenantGuard.cs: VLAN tag; inner L3 malformed, then source
//   not bound to that VM, then the first-hop checks) -> destination (local VM / flood local /
//   egress MTU / unknown). Tunnel traffic is never sent back into the tunnel (split horizon).
//
// One lookup stands for the three checks "source is a remote host, on its tunnel type, with a
// VNI of ours": the (outer source, VNI, tunnel type) key of every (tenant, remote host) tunnel
// that carries a remote VM. VXLAN and GENEVE both keep the VNI in bytes 4-6 of their header, so
// the key can be read before the header is validated. A frame whose key is unknown is refused
// out of line (Refuse), where the checks run one by one to name the first that fails.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Overlay.Neighbours;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Switching;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Dataplane.Overlay;

public enum UplinkAction : byte
{
    /// <summary>Decapsulated: the inner frame goes to Decapsulated.Egress.</summary>
    Deliver,
    /// <summary>Decapsulated broadcast/multicast: to every local VM port of the tenant, never back to a tunnel.</summary>
    Flood,
    /// <summary>An ARP request for our VTEP, rewritten into the reply: back out of the uplink.</summary>
    VtepArpReply,
    /// <summary>An ARP reply from a next hop: its MAC is learned and the frame consumed.</summary>
    NeighbourLearned,
}

public struct Decapsulated
{
    public UplinkAction Action;
    /// <summary>Bytes of outer headers in front of the inner frame.</summary>
    public int InnerOffset;
    public int InnerLength;
    /// <summary>The (tenant, remote host) tunnel the frame came through.</summary>
    public TunnelEndpoint? Tunnel;
    public PortBinding? Egress;
    public int GeneveOptions;
    public int GeneveCriticalOptions;
    /// <summary>Set (>= 0) only for accepted ARP (UnderlayArp) whose sender is one of our next hops: learn LearnedMac for it.</summary>
    public int NeighbourIndex;
    public ulong LearnedMac;

    public readonly RemoteHost? Host => Tunnel?.Host;
    public readonly int TenantIndex => Tunnel?.TenantIndex ?? -1;
}

public static class Decapsulation
{
    /// <summary>
    /// Decides what happens to one frame received on the uplink. May rewrite the frame in place
    /// (the VTEP's ARP reply). Allocates nothing and never throws on frame contents. Inlined into
    /// the worker so that the result's references are written to its stack, without GC barriers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Classify(SwitchTables tables, OverlayTables overlay, Span<byte> frame, out Decapsulated result)
    {
        result = default;
        result.NeighbourIndex = -1;
        if (frame.Length < Ethernet.HeaderLength)
            return DropReason.RuntFrame;
        if (frame.Length > overlay.Uplink.MaxFrameLength)
            return DropReason.Oversize;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(Ethernet.EtherTypeOffset));
        if (etherType == Ethernet.TypeArp)
            return UnderlayArp.Classify(overlay, frame, ref result);
        if (etherType != Ethernet.TypeIpv4)
            return DropReason.UplinkNotTunnel;

        ReadOnlySpan<byte> ip = frame.Slice(Ethernet.HeaderLength);
        int ipHeader = Ipv4.ValidHeaderLength(ip);
        if (ipHeader == 0)
            return DropReason.MalformedOuter;
        // A span of constant length: the JIT drops the bounds checks of every fixed-offset read below.
        ReadOnlySpan<byte> ipFixed = ip.Slice(0, Ipv4.MinHeaderLength);
        if (ipFixed[Ipv4.ProtocolOffset] != Ipv4.ProtocolUdp)
            return DropReason.UplinkNotTunnel;
        if ((BinaryPrimitives.ReadUInt16BigEndian(ipFixed.Slice(Ipv4.FlagsFragmentOffset)) & Ipv4.FragmentMask) != 0)
            return DropReason.OuterFragment;
        if (ipHeader != Ipv4.MinHeaderLength)
            return DropReason.OuterIpOptions;
        // RFC 1122 section 3.2.1.2: a bad header checksum is discarded. Summed in software on
        // every frame: net_pcap and net_af_packet set no RTE_MBUF_F_RX_IP_CKSUM_* flags, and the
        // 20 bytes were just read (a handful of adds, cheaper than carrying ol_flags in here).
        if (!Ipv4.ChecksumVerifiesNoOptions(ipFixed))
            return DropReason.BadOuterChecksum;
        // The total length, not the frame, bounds the datagram: Ethernet padding is not payload.
        ReadOnlySpan<byte> udp = ip.Slice(0, BinaryPrimitives.ReadUInt16BigEndian(ipFixed.Slice(Ipv4.TotalLengthOffset))).Slice(Ipv4.MinHeaderLength);
        if (udp.Length < Udp.HeaderLength)
            return DropReason.MalformedOuter;
        ReadOnlySpan<byte> udpFixed = udp.Slice(0, Udp.HeaderLength);
        int udpLength = BinaryPrimitives.ReadUInt16BigEndian(udpFixed.Slice(Udp.LengthOffset));
        if (udpLength < Udp.HeaderLength || udpLength > udp.Length)
            return DropReason.MalformedOuter;
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(udpFixed.Slice(Udp.DestinationPortOffset));
        if (port != Vxlan.UdpPort && port != Geneve.UdpPort)
            return DropReason.UplinkNotTunnel;
        // The uplink is promiscuous: a tunnel frame for another host's MAC (or broadcast) is not ours.
        if (MacAddress.Read(frame) != overlay.Mac)
            return DropReason.WrongDestinationMac;
        if (BinaryPrimitives.ReadUInt32BigEndian(ipFixed.Slice(Ipv4.DestinationOffset)) != overlay.Vtep)
            return DropReason.WrongDestinationVtep;

        uint source = BinaryPrimitives.ReadUInt32BigEndian(ipFixed.Slice(Ipv4.SourceOffset));
        ReadOnlySpan<byte> payload = udp.Slice(Udp.HeaderLength, udpLength - Udp.HeaderLength);
        TunnelType tunnel = port == Vxlan.UdpPort ? TunnelType.Vxlan : TunnelType.Geneve;
        if (payload.Length < Vxlan.HeaderLength
            || !overlay.Tunnels.TryGetValue(OverlayTables.TunnelKey(source, ReadVni(payload), tunnel), out TunnelEndpoint? endpoint))
            return Refuse(overlay, source, port, payload);
        DropReason header = ParseTunnelHeader(tunnel, endpoint.Host, payload, ref result, out int tunnelLength);
        if (header != DropReason.None)
            return header;

        result.Tunnel = endpoint;
        result.InnerOffset = Udp.TunnelOuterLength + tunnelLength;
        result.InnerLength = payload.Length - tunnelLength;
        return CheckInner(tables, overlay, frame.Slice(result.InnerOffset, result.InnerLength), endpoint, ref result);
    }

    /// <summary>Bytes 4-6 of a VXLAN (RFC 7348 section 5) or GENEVE (RFC 8926 section 3.4) header, at least 8 bytes long.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadVni(ReadOnlySpan<byte> tunnelHeader) => BinaryPrimitives.ReadUInt32BigEndian(tunnelHeader.Slice(4)) >> 8;

    /// <summary>Validates a tunnel header of <paramref name="host"/>'s type (<paramref name="tunnel"/>); its length is where the inner frame starts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason ParseTunnelHeader(TunnelType tunnel, RemoteHost host, ReadOnlySpan<byte> payload, ref Decapsulated result, out int length)
    {
        if (tunnel == TunnelType.Vxlan)
        {
            length = Vxlan.HeaderLength;
            return Vxlan.Parse(payload, out _);
        }
        DropReason geneve = Geneve.Parse(payload, host.KnownOptions, out GeneveHeader header);
        length = header.Length;
        result.GeneveOptions = header.Options;
        result.GeneveCriticalOptions = header.CriticalOptions;
        return geneve;
    }

    /// <summary>
    /// The reason a tunnel frame whose (source, VNI, type) key is unknown is refused, by the
    /// checks in their documented order. Out of line: only refused frames come here.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason Refuse(OverlayTables overlay, uint source, ushort port, ReadOnlySpan<byte> payload)
    {
        if (!overlay.HostsByVtep.TryGetValue(OverlayTables.HostKey(source), out RemoteHost? host))
            return DropReason.UnknownSourceVtep;
        if (port != host.UdpPort)
            return DropReason.TunnelTypeMismatch;
        Decapsulated unused = default;
        DropReason header = ParseTunnelHeader(host.Tunnel, host, payload, ref unused, out int tunnelLength);
        if (header != DropReason.None)
            return header;
        if (!overlay.TenantByVni.TryGetValue(OverlayTables.VniKey(ReadVni(payload)), out _))
            return DropReason.UnknownVni;
        // A tenant of ours, from a host where it has no VM: no inner source can be one of them.
        return payload.Length - tunnelLength < Ethernet.HeaderLength ? DropReason.MalformedInner : DropReason.SpoofedInnerSource;
    }

    /// <summary>The tenant checks of L2Switch (TenantGuard.CheckSender), with the remote VM standing in for the ingress port's binding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason CheckInner(SwitchTables tables, OverlayTables overlay, ReadOnlySpan<byte> inner, TunnelEndpoint tunnel, ref Decapsulated result)
    {
        if (inner.Length < Ethernet.HeaderLength)
            return DropReason.MalformedInner;
        ReadOnlySpan<byte> ethernet = inner.Slice(0, Ethernet.HeaderLength);
        ulong source = MacAddress.Read(ethernet.Slice(Ethernet.SourceOffset, 6));
        // The key holds the tenant; the tunnel then pins the host: a remote VM speaks only through its own host's VTEP.
        if (!overlay.RemoteMacs.TryGetValue(SwitchTables.MacKey(tunnel.TenantIndex, source), out RemoteVm? sender)
            || !ReferenceEquals(sender.Endpoint, tunnel))
            return DropReason.SpoofedInnerSource;

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(ethernet.Slice(Ethernet.EtherTypeOffset));
        DropReason checks = TenantGuard.CheckSender(new RemoteSender(sender), etherType, inner.Slice(Ethernet.HeaderLength));
        if (checks != DropReason.None)
            return checks;

        ulong destination = MacAddress.Read(ethernet);
        if (MacAddress.IsGroup(destination))
        {
            result.Action = UplinkAction.Flood;
            return DropReason.None;
        }
        if (!tables.MacTable.TryGetValue(SwitchTables.MacKey(tunnel.TenantIndex, destination), out PortBinding? egress))
            return DropReason.UnknownInnerDestination;
        if (inner.Length > egress.MaxFrameLength)
            return DropReason.EgressMtuExceeded;
        result.Action = UplinkAction.Deliver;
        result.Egress = egress;
        return DropReason.None;
    }
}

/// <summary>
/// A VM on another host, as the tenant checks see a frame decapsulated from it. Its IPv6
/// addresses are not configured here: its own host's switch checks its IPv6 sources, so only the
/// link-layer address of its Neighbor Advertisements is checked here.
/// </summary>
public readonly struct RemoteSender(RemoteVm vm) : ITenantSender
{
    public ulong Mac => vm.Mac;

    public bool AllowRouting => vm.AllowRouting;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool HasIpv4(uint address) => vm.HasIpv4(address);

    public bool MaySendFromIpv6(UInt128 address) => true;

    public bool MayAdvertiseIpv6(UInt128 target) => true;
}
