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

    /// <summary>Complete (the fixed part and the addresses its hlen/plen claim are present) and Ethernet/IPv4.</summary>
    public static bool IsWellFormed(ReadOnlySpan<byte> arp) =>
        arp.Length >= FixedLength && ClaimedLength(arp) <= arp.Length && IsEthernetIpv4(arp);

    /// <summary>
    /// Turns a request (an Ethernet frame carrying it) into the reply in place: addressed back to
    /// the requester, saying that <paramref name="ip"/> is at <paramref name="mac"/>.
    /// </summary>
    public static void RewriteAsReply(Span<byte> frame, ulong mac, uint ip)
    {
        Span<byte> arp = frame.Slice(Ethernet.HeaderLength);
        ulong requesterMac = MacAddress.Read(arp.Slice(SenderMacOffset, 6));
        uint requesterIp = BinaryPrimitives.ReadUInt32BigEndian(arp.Slice(SenderIpOffset));
        MacAddress.Write(frame.Slice(Ethernet.DestinationOffset, 6), requesterMac);
        MacAddress.Write(frame.Slice(Ethernet.SourceOffset, 6), mac);
        BinaryPrimitives.WriteUInt16BigEndian(arp.Slice(OperOffset), OpReply);
        MacAddress.Write(arp.Slice(TargetMacOffset, 6), requesterMac);
        BinaryPrimitives.WriteUInt32BigEndian(arp.Slice(TargetIpOffset), requesterIp);
        MacAddress.Write(arp.Slice(SenderMacOffset, 6), mac);
        BinaryPrimitives.WriteUInt32BigEndian(arp.Slice(SenderIpOffset), ip);
    }

    /// <summary>Writes a broadcast who-has request for <paramref name="targetIp"/> into 42 bytes (Ethernet + ARP).</summary>
    public static void WriteRequest(Span<byte> frame, ulong senderMac, uint senderIp, uint targetIp)
    {
        MacAddress.Write(frame.Slice(Ethernet.DestinationOffset, 6), MacAddress.Broadcast);
        MacAddress.Write(frame.Slice(Ethernet.SourceOffset, 6), senderMac);
        BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(Ethernet.EtherTypeOffset), Ethernet.TypeArp);
        Span<byte> arp = frame.Slice(Ethernet.HeaderLength, EthernetIpv4Length);
        BinaryPrimitives.WriteUInt16BigEndian(arp, HardwareEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(arp.Slice(2), Ethernet.TypeIpv4);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp.Slice(OperOffset), OpRequest);
        MacAddress.Write(arp.Slice(SenderMacOffset, 6), senderMac);
        BinaryPrimitives.WriteUInt32BigEndian(arp.Slice(SenderIpOffset), senderIp);
        MacAddress.Write(arp.Slice(TargetMacOffset, 6), 0);
        BinaryPrimitives.WriteUInt32BigEndian(arp.Slice(TargetIpOffset), targetIp);
    }
}
