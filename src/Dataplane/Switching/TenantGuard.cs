// First-hop security inside a tenant: a VM may speak only for itself, never as the tenant's router,
// DHCP server, or another VM's neighbour. These checks run after the source checks, on frames
// from local VMs (L2Switch) and on frames decapsulated from remote VMs (Overlay/Decapsulation):
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
// compare; everything else runs out of line, only for IPv6 that is not TCP.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Counters;

namespace VSwitch.Dataplane.Switching;

public static class TenantGuard
{
    /// <summary>Source port 67, destination port 68, as one big-endian word.</summary>
    private const uint DhcpServerToClient = 67u << 16 | 68;
    /// <summary>Source port 547, destination port 546.</summary>
    private const uint Dhcpv6ServerToClient = 547u << 16 | 546;

    /// <summary>
    /// Checks UDP over IPv4 (<paramref name="ip"/>: a header that Ipv4.ValidHeaderLength accepted,
    /// <paramref name="headerLength"/> long, <paramref name="totalLength"/> in all; <paramref name="ipFixed"/>:
    /// its first 20 octets). The common case, a complete header that is no DHCP reply, costs two
    /// compares; the rest goes out of line.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason CheckIpv4(ReadOnlySpan<byte> ipFixed, ReadOnlySpan<byte> ip, int headerLength, int totalLength)
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

    /// <summary>
    /// Checks IPv6 (<paramref name="packet"/>: a header that Ipv6.IsValidHeader accepted) from a VM
    /// with <paramref name="senderMac"/>. <paramref name="local"/> is the sender's port binding;
    /// null for a remote VM, whose IPv6 addresses are not configured here (its own host checks
    /// them), so only its link-layer address is checked in a Neighbor Advertisement.
    /// TCP, the common case, costs one compare.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason CheckIpv6(ReadOnlySpan<byte> packet, ulong senderMac, bool allowRouting, PortBinding? local) =>
        packet[Ipv6.NextHeaderOffset] == Ipv6.NextHeaderTcp ? DropReason.None : CheckIpv6UpperLayer(packet, senderMac, allowRouting, local);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason CheckIpv6UpperLayer(ReadOnlySpan<byte> packet, ulong senderMac, bool allowRouting, PortBinding? local)
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
                return allowRouting ? DropReason.None : DropReason.RogueRouterAdvertisement;
            case Icmpv6.Redirect:
                return allowRouting ? DropReason.None : DropReason.RogueRedirect;
            case Icmpv6.NeighborAdvertisement:
                if (!Icmpv6.TryReadNeighborAdvertisement(upper, senderMac, out UInt128 target, out bool namesSender))
                    return DropReason.MalformedIcmpv6;
                return namesSender && (local is null || local.HasIpv6(target)) ? DropReason.None : DropReason.SpoofedNeighborAdvertisement;
            default:
                return DropReason.None;
        }
    }
}
