// What one flow is, as a worker reads it off a frame: the tenant, the VNI it came in on (0 for a
// frame from a local VM), and for IP its protocol and addresses, and ports for TCP and UDP (the
// IPFIX flow key fields of RFC 7011 section 2: sourceIPv4Address ... destinationTransportPort);
// for anything else the MACs and EtherType. IPv4 addresses are kept IPv4-mapped (RFC 4291 section
// 2.5.5.2) so that one key shape holds both families. Reading a key never throws: a frame too
// short for a field leaves it zero, and a malformed frame still has a flow (its drop is counted on it).
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Protocols;

namespace VSwitch.Dataplane.Flows;

public readonly record struct FlowKey(int Tenant, uint Vni, ushort EtherType, byte Protocol,
    UInt128 Source, UInt128 Destination, ushort SourcePort, ushort DestinationPort)
{
    private static readonly UInt128 Ipv4Mapped = new(0, 0xFFFF_0000_0000);

    /// <summary>The flow of <paramref name="frame"/> (an Ethernet frame, untagged) in tenant <paramref name="tenant"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlowKey FromFrame(int tenant, uint vni, ReadOnlySpan<byte> frame)
    {
        // IPv4 inline, as the worker's common case; the rest out of line.
        if (frame.Length >= Ethernet.HeaderLength && BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(Ethernet.EtherTypeOffset)) == Ethernet.TypeIpv4)
        {
            ReadOnlySpan<byte> l3 = frame.Slice(Ethernet.HeaderLength);
            int headerLength = Ipv4.ValidHeaderLength(l3);
            if (headerLength != 0)
            {
                ReadOnlySpan<byte> ip = l3.Slice(0, Ipv4.MinHeaderLength);
                byte protocol = ip[Ipv4.ProtocolOffset];
                uint ports = 0;
                // Only a first fragment (offset 0) carries the ports.
                if (protocol is Ipv4.ProtocolTcp or Ipv4.ProtocolUdp && l3.Length >= headerLength + 4
                    && (BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(Ipv4.FlagsFragmentOffset)) & 0x1FFF) == 0)
                    ports = BinaryPrimitives.ReadUInt32BigEndian(l3.Slice(headerLength));
                return new(tenant, vni, Ethernet.TypeIpv4, protocol,
                    Ipv4Mapped | BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(Ipv4.SourceOffset)),
                    Ipv4Mapped | BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(Ipv4.DestinationOffset)), (ushort)(ports >> 16), (ushort)ports);
            }
        }
        return FromOtherFrame(tenant, vni, frame);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static FlowKey FromOtherFrame(int tenant, uint vni, ReadOnlySpan<byte> frame)
    {
        if (frame.Length < Ethernet.HeaderLength)
            return new(tenant, vni, 0, 0, 0, 0, 0, 0);
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(Ethernet.EtherTypeOffset));
        ReadOnlySpan<byte> l3 = frame.Slice(Ethernet.HeaderLength);
        switch (etherType)
        {
            case Ethernet.TypeIpv6:
                if (!Ipv6.IsValidHeader(l3))
                    break;
                // The upper layer past the extension headers; a chain too long or cut short counts under its first Next Header.
                if (!Ipv6.TryFindUpperLayer(l3, out byte upper, out ReadOnlySpan<byte> payload))
                {
                    upper = l3[Ipv6.NextHeaderOffset];
                    payload = default;
                }
                (ushort sourcePort6, ushort destinationPort6) = Ports(upper, payload);
                return new(tenant, vni, etherType, upper, Ipv6.ReadAddress(l3.Slice(Ipv6.SourceOffset, 16)),
                    Ipv6.ReadAddress(l3.Slice(Ipv6.DestinationOffset, 16)), sourcePort6, destinationPort6);
        }
        return new(tenant, vni, etherType, 0, MacAddress.Read(frame.Slice(Ethernet.SourceOffset)), MacAddress.Read(frame), 0, 0);
    }

    private static (ushort Source, ushort Destination) Ports(byte protocol, ReadOnlySpan<byte> upper) =>
        protocol is Ipv4.ProtocolTcp or Ipv4.ProtocolUdp && upper.Length >= 4
            ? (BinaryPrimitives.ReadUInt16BigEndian(upper), BinaryPrimitives.ReadUInt16BigEndian(upper.Slice(2)))
            : ((ushort)0, (ushort)0);

    /// <summary>Field by field, the cheapest first; inlined into the table's probe (the generated one is not).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Equals(FlowKey other) =>
        SourcePort == other.SourcePort && DestinationPort == other.DestinationPort && Source == other.Source && Destination == other.Destination
        && Tenant == other.Tenant && Vni == other.Vni && EtherType == other.EtherType && Protocol == other.Protocol;

    public override int GetHashCode() => (int)Hash();

    /// <summary>A 32-bit mix of every field, for the flow table's buckets (multiply-xorshift, as in splitmix64's finaliser).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Hash()
    {
        ulong h = (ulong)Source ^ (ulong)(Source >> 64) * 0x9E3779B97F4A7C15UL;
        h ^= ((ulong)Destination ^ (ulong)(Destination >> 64) * 0xC2B2AE3D27D4EB4FUL) + 0x165667B19E3779F9UL;
        h ^= ((ulong)(uint)Tenant << 32 | Vni) * 0xFF51AFD7ED558CCDUL;
        h ^= ((ulong)EtherType << 40 | (ulong)Protocol << 32 | (ulong)SourcePort << 16 | DestinationPort) * 0xC4CEB9FE1A85EC53UL;
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        return (uint)h;
    }
}
