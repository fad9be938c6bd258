// ARP over Ethernet for IPv4 (RFC 826).
using System.Buffers.Binary;

namespace VSwitch.Dataplane.Protocols;

public static class Arp
{
    /// <summary>htype, ptype, hlen, plen, oper: the part every ARP packet has before its addresses.</summary>
    public const int FixedLength = 8;
    /// <summary>An Ethernet/IPv4 ARP packet: 8 fixed octets + 2 x (6 + 4) address octets.</summary>
    public const int EthernetIpv4Length = 28;
    public const ushort HardwareEthernet = 1;
    public const ushort OpRequest = 1;
    public const ushort OpReply = 2;

    public const int OperOffset = 6;
    public const int SenderMacOffset = 8;
    public const int SenderIpOffset = 14;
    public const int TargetMacOffset = 18;
    public const int TargetIpOffset = 24;

    /// <summary>Total length the header claims through its hlen and plen fields.</summary>
    public static int ClaimedLength(ReadOnlySpan<byte> arp) => FixedLength + 2 * (arp[4] + arp[5]);

    public static bool IsEthernetIpv4(ReadOnlySpan<byte> arp) =>
        BinaryPrimitives.ReadUInt16BigEndian(arp) == HardwareEthernet
        && BinaryPrimitives.ReadUInt16BigEndian(arp.Slice(2)) == Ethernet.TypeIpv4
        && arp[4] == 6 && arp[5] == 4;
}
