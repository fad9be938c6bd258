// The tenant checks of a frame's sender, one generic code for frames from local VMs (L2Switch,
// sender LocalSender: the ingress port's binding) and frames decapsulated from remote VMs
// (Overlay/Decapsulation, sender RemoteSender): the L3 header is well formed, its source
// addresses (IPv4, ARP sender, IPv6) are the sender's own, the frame is untagged, then the
// first-hop checks below. A struct type parameter makes each sender's instance its own inlined code.
//
// First-hop security inside a tenant: a VM may speak only for itself, never as the tenant's router,
// DHCP server, or another VM's neighbour:
//  - Neighbor Advertisements (RFC 4861 section 4.4) must name one of the sender's own addresses
//    as target (link-local included: a VM answers for it during duplicate address detection,
//    RFC 4862 section 5.4) and its own MAC in every Target Link-Layer Address option (section
//    4.6.1); otherwise one VM could take over another's address in its neighbours' caches
//    (section 7.2.5, RFC 3756 section 4.1.1).
//  - Router Advertisements (section 4.2) and Redirects (section 4.5) come only from a VM allowed
//    to route (allow_routing); from any other they reroute the tenant (RFC 6104, RFC 3756 4.2.1).
//  - DHCP server replies: UDP 67 to 68 (RFC 2131 section 4.1) and DHCPv6 547 to 546 (RFC 8415
//    section 7.2) are dropped: addresses are bound in the configuration, a VM is no DHCP server.
// The IPv6 checks walk the extension header chain to the upper-layer header, as RA-Guard must
// (RFC 7113 section 3): a header chain cut short or longer than Ipv6.MaxExtensionHeaders is
// malformed. A fragment other than the first has no upper-layer header and passes: its first
// fragment is checked, and hosts discard fragmented Neighbor Discovery anyway (RFC 6980 section 5).
// Cost: plain unicast IPv4 pays one protocol compare, UDP over IPv4 one length and one port-word
// compare; IPv6 runs out of line.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Dataplane.Switching;

/// <summary>Who a frame claims to come from, as the tenant checks see it.</summary>
public interface ITenantSender
{
    ulong Mac { get; }

    bool AllowRouting { get; }

    bool HasIpv4(uint address);

    /// <summary>Whether <paramref name="address"/> may be the source of an IPv6 packet from the sender.</summary>
    bool MaySendFromIpv6(UInt128 address);

    /// <summary>Whether a Neighbor Advertisement from the sender may name <paramref name="target"/>.</summary>
    bool MayAdvertiseIpv6(UInt128 target);
}

/// <summary>A VM on this host, known by its port's binding: every address of it is configured here.</summary>
public readonly struct LocalSender(PortBinding port) : ITenantSender
{
    public ulong Mac => port.Mac;

    public bool AllowRouting => port.AllowRouting;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool HasIpv4(uint address) => port.HasIpv4(address);

    public bool MaySendFromIpv6(UInt128 address) => port.HasIpv6(address);

    public bool MayAdvertiseIpv6(UInt128 target) => port.HasIpv6(target);
}

public static class TenantGuard
{
    /// <summary>Source port 67, destination port 68, as one big-endian word.</summary>
    private const uint DhcpServerToClient = 67u << 16 | 68;
    /// <summary>Source port 547, destination port 546.</summary>
    private const uint Dhcpv6ServerToClient = 547u << 16 | 546;

    /// <summary>
    /// Checks the L3 header of a frame from <paramref name="sender"/> whose Ethernet source is
    /// already known to be the sender's; <paramref name="l3"/> is what follows the Ethernet header.
    /// The common case, unicast IPv4 other than UDP, costs a header check, one address compare
    /// and one protocol compare; IPv6 runs out of line.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason CheckSender<TSender>(TSender sender, ushort etherType, ReadOnlySpan<byte> l3) where TSender : struct, ITenantSender
    {
        switch (etherType)
        {
            case Ethernet.TypeIpv4:
                int headerLength = Ipv4.ValidHeaderLength(l3, out int totalLength);
                if (headerLength == 0)
                    return DropReason.MalformedIpv4;
                // Of constant length: its fixed-offset reads need no bounds checks.
                ReadOnlySpan<byte> ipFixed = l3.Slice(0, Ipv4.MinHeaderLength);
                if (!sender.HasIpv4(BinaryPrimitives.ReadUInt32BigEndian(ipFixed.Slice(Ipv4.SourceOffset, 4))))
                    return DropReason.SpoofedIpv4Source;
                return CheckIpv4(ipFixed, l3, headerLength, totalLength);
            case Ethernet.TypeArp:
                return CheckArpSender(sender, l3);
            case Ethernet.TypeIpv6:
                return CheckIpv6Sender(sender, l3);
            case Ethernet.TypeVlan or Ethernet.TypeQinQ or Ethernet.TypeQinQLegacy:
                return DropReason.VlanTagged;
            default:
                // Other EtherTypes are switched like any frame once the source MAC has been checked.
                return DropReason.None;
        }
    }

    /// <summary>RFC 826 well-formedness, then the sender's MAC and IPv4 address. Out of line: a VM sends ARP once a minute, IPv4 all the time.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason CheckArpSender<TSender>(TSender sender, ReadOnlySpan<byte> arp) where TSender : struct, ITenantSender
    {
        if (!Arp.IsWellFormed(arp))
            return DropReason.MalformedArp;
        return MacAddress.Read(arp.Slice(Arp.SenderMacOffset, 6)) == sender.Mac
            && sender.HasIpv4(BinaryPrimitives.ReadUInt32BigEndian(arp.Slice(Arp.SenderIpOffset)))
            ? DropReason.None : DropReason.SpoofedArpSender;
    }

    /// <summary>The IPv6 checks: header, source, then the first-hop checks. Out of line: IPv4 is the common case.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason CheckIpv6Sender<TSender>(TSender sender, ReadOnlySpan<byte> packet) where TSender : struct, ITenantSender
    {
        if (!Ipv6.IsValidHeader(packet))
            return DropReason.MalformedIpv6;
        if (!sender.MaySendFromIpv6(Ipv6.ReadAddress(packet.Slice(Ipv6.SourceOffset, 16))))
            return DropReason.SpoofedIpv6Source;
        return packet[Ipv6.NextHeaderOffset] == Ipv6.NextHeaderTcp ? DropReason.None : CheckIpv6UpperLayer(sender, packet);
    }

    /// <summary>
    /// Checks UDP over IPv4 (<paramref name="ip"/>: a header that Ipv4.ValidHeaderLength accepted,
    /// <paramref name="headerLength"/> long, <paramref name="totalLength"/> in all; <paramref name="ipFixed"/>:
    /// its first 20 octets). The common case, a complete header that is no DHCP reply, costs two
    /// compares; the rest goes out of line.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason CheckIpv4(ReadOnlySpan<byte> ipFixed, ReadOnlySpan<byte> ip, int headerLength, int totalLength)
    {
        if (ipFixed[Ipv4.ProtocolOffset] != Ipv4.ProtocolUdp)
            return DropReason.None;
        int udpLength = totalLength - headerLength;
        if (udpLength >= Udp.HeaderLength && BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(headerLength)) != DhcpServerToClient)
            return DropReason.None;
        return CheckUdpOverIpv4(ip, headerLength, udpLength);
    }

    /// <summary>Short UDP, or ports 67 to 68: malformed or a DHCP server, unless a fragment other than the first.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason CheckUdpOverIpv4(ReadOnlySpan<byte> ip, int headerLength, int udpLength)
    {
        // RFC 791 section 3.1: the fragment offset is in 8-octet units; only offset 0 holds the UDP header.
        if ((BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(Ipv4.FlagsFragmentOffset)) & 0x1FFF) != 0)
            return DropReason.None;
        return CheckUdp(ip.Slice(headerLength, udpLength), DhcpServerToClient);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason CheckUdp(ReadOnlySpan<byte> udp, uint serverToClient) =>
        udp.Length < Udp.HeaderLength ? DropReason.MalformedUdp
        : BinaryPrimitives.ReadUInt32BigEndian(udp) == serverToClient ? DropReason.RogueDhcpServer
        : DropReason.None;

    /// <summary>The upper-layer checks of IPv6 that is not TCP (<paramref name="packet"/>: a header that Ipv6.IsValidHeader accepted).</summary>
    private static DropReason CheckIpv6UpperLayer<TSender>(TSender sender, ReadOnlySpan<byte> packet) where TSender : struct, ITenantSender
    {
        if (!Ipv6.TryFindUpperLayer(packet, out byte protocol, out ReadOnlySpan<byte> upper))
            return DropReason.MalformedIpv6;
        if (protocol == Ipv6.NextHeaderUdp)
            return CheckUdp(upper, Dhcpv6ServerToClient);
        if (protocol != Ipv6.NextHeaderIcmpv6)
            return DropReason.None;
        if (upper.Length < Icmpv6.HeaderLength)
            return DropReason.MalformedIcmpv6;
        switch (upper[0])
        {
            case Icmpv6.RouterAdvertisement:
                return sender.AllowRouting ? DropReason.None : DropReason.RogueRouterAdvertisement;
            case Icmpv6.Redirect:
                return sender.AllowRouting ? DropReason.None : DropReason.RogueRedirect;
            case Icmpv6.NeighborAdvertisement:
                if (!Icmpv6.TryReadNeighborAdvertisement(upper, sender.Mac, out UInt128 target, out bool namesSender))
                    return DropReason.MalformedIcmpv6;
                return namesSender && sender.MayAdvertiseIpv6(target) ? DropReason.None : DropReason.SpoofedNeighborAdvertisement;
            default:
                return DropReason.None;
        }
    }
}
