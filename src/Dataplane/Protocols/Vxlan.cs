// VXLAN header, RFC 7348 section 5: 8 bytes after a UDP header to port 4789.
//   flags (8: only I, 0x08) | reserved (24) | VNI (24) | reserved (8)
// "The I flag MUST be set to 1 for a valid VNI. The other 7 bits (designated "R") are reserved
// fields and MUST be set to zero on transmission and ignored on receipt": we check I and nothing else.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Counters;

namespace VSwitch.Dataplane.Protocols;

public static class Vxlan
{
    public const int HeaderLength = 8;
    /// <summary>IANA-assigned UDP port (RFC 7348 section 5).</summary>
    public const ushort UdpPort = 4789;
    public const byte FlagI = 0x08;

    public static void Write(Span<byte> header, uint vni)
    {
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)FlagI << 24);
        BinaryPrimitives.WriteUInt32BigEndian(header.Slice(4), vni << 8);
    }

    /// <summary>Reads the VNI of a received header; DropReason.None when it is complete and has the I flag.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Parse(ReadOnlySpan<byte> packet, out uint vni)
    {
        vni = 0;
        if (packet.Length < HeaderLength || (packet[0] & FlagI) == 0)
            return DropReason.MalformedTunnelHeader;
        vni = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(4)) >> 8;
        return DropReason.None;
    }
}
