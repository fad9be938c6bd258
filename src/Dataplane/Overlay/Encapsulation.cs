// Writing the outer headers (RFC 7348 section 5, RFC 8926 section 3) in front of a tenant frame.
// The template of the (tenant, host) endpoint is copied whole; then the next-hop MAC, the IPv4
// total length and checksum, and the UDP source port and length are patched.
//  - IPv4: DF set, identification 0 (RFC 6864 section 4.1: an atomic datagram's ID has no
//    meaning), TTL from overlay.ttl, no options. The checksum is the template's precomputed sum
//    plus the total length, folded: the only field that changes per frame.
//  - UDP checksum 0: allowed over IPv4 (RFC 768; RFC 7348 section 5 "UDP Checksum: It SHOULD be
//    transmitted as zero"; RFC 8926 section 3.3 permits it for IPv4 too). The inner frame carries
//    its own end-to-end checksums.
//  - UDP source port: a hash of the inner flow mapped into 49152..65535, so that underlay ECMP
//    and RSS spread tunnels the way Linux's udp_flow_src_port does (RFC 7348 section 5 asks for
//    a hash of the inner headers in the dynamic/private range).
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Dataplane.Overlay;

public static class Encapsulation
{
    public const int SourcePortMin = 49152;
    public const int SourcePortCount = 65536 - SourcePortMin;

    /// <summary>Maps a 32-bit flow hash onto 49152..65535 by multiply-shift, keeping every hash bit's influence.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SourcePort(uint flowHash) => (ushort)(SourcePortMin + (int)(((ulong)flowHash * SourcePortCount) >> 32));

    /// <summary>
    /// Whether a frame of <paramref name="length"/> bytes can go to the endpoint now: it must fit
    /// the uplink's MTU with the outer headers, and the next hop must be resolved (its MAC is
    /// returned). The MTU is checked first: it is a property of the frame, not of the moment.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Check(OverlayTables overlay, TunnelEndpoint endpoint, int length, out ulong nextHop)
    {
        nextHop = 0;
        if (length > endpoint.MaxInnerLength)
            return DropReason.EncapExceedsMtu;
        nextHop = Volatile.Read(ref overlay.NeighbourMacs[endpoint.NeighbourIndex]);
        return nextHop == 0 ? DropReason.NeighbourUnresolved : DropReason.None;
    }

    /// <summary>
    /// Fills the first endpoint.HeaderLength bytes of <paramref name="packet"/> (outer headers
    /// followed by the inner frame, packet.Length in all) with the outer headers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(Span<byte> packet, TunnelEndpoint endpoint, ulong nextHopMac, ushort sourcePort)
    {
        endpoint.Template.CopyTo(packet);
        int ipLength = packet.Length - Ethernet.HeaderLength;
        // Of constant length: the patches below need no bounds checks.
        Span<byte> outer = packet.Slice(0, Udp.TunnelOuterLength);
        MacAddress.Write(outer, nextHopMac);
        Span<byte> ip = outer.Slice(Ethernet.HeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4.TotalLengthOffset), (ushort)ipLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4.ChecksumOffset), Ipv4.FoldChecksum(endpoint.ChecksumBase + (uint)ipLength));
        Span<byte> udp = ip.Slice(Ipv4.MinHeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(Udp.LengthOffset), (ushort)(ipLength - Ipv4.MinHeaderLength));
    }
}
