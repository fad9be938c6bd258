// What a test needs to know about a captured Ethernet frame, decoded by PacketDotNet,
// independently of the dataplane's own parsers (a system test must not trust the code it
// tests): addresses, EtherType after any VLAN tags, ARP fields, IPv4/ICMP/UDP basics, and a test
// marker ("VSWT[label]") searched anywhere in the frame.
using System.Net;
using System.Net.NetworkInformation;
using System.Text;
using PacketDotNet;
using PacketDotNet.Utils;

namespace VSwitch.Tests.Integration.Infrastructure;

public sealed record FrameFacts
{
    public const ushort TypeIpv4 = 0x0800;
    public const ushort TypeArp = 0x0806;
    public const ushort TypeVlan = 0x8100;
    public const ushort TypeQinQ = 0x88A8;
    public const ushort TypeIpv6 = 0x86DD;
    public const byte ProtocolIcmp = 1;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;

    /// <summary>Prefix of a test marker; the label runs to the next ']'.</summary>
    public static readonly byte[] MarkerPrefix = "VSWT["u8.ToArray();

    public required byte[] Data { get; init; }
    public required string Destination { get; init; }
    public required string Source { get; init; }
    /// <summary>The EtherType of the outermost header (0x8100 for a tagged frame).</summary>
    public required ushort OuterType { get; init; }
    /// <summary>VLAN IDs of the tags, outermost first.</summary>
    public required IReadOnlyList<int> Vlans { get; init; }
    /// <summary>The EtherType after every VLAN tag.</summary>
    public required ushort EtherType { get; init; }
    public int? ArpOperation { get; init; }
    public string? ArpSenderMac { get; init; }
    public IPAddress? ArpSenderIp { get; init; }
    public string? ArpTargetMac { get; init; }
    public IPAddress? ArpTargetIp { get; init; }
    public IPAddress? Ipv4Source { get; init; }
    public IPAddress? Ipv4Destination { get; init; }
    public byte? IpProtocol { get; init; }
    public int? IcmpType { get; init; }
    /// <summary>ICMP payload after the 8-byte header (for echo: the pattern ping -p filled in).</summary>
    public byte[]? IcmpPayload { get; init; }
    public int? UdpDestinationPort { get; init; }
    /// <summary>The label of the first "VSWT[label]" marker in the frame, if any.</summary>
    public string? Marker { get; init; }

    public bool IsBroadcast => Destination == "ff:ff:ff:ff:ff:ff";
    public bool IsGroupAddress => (Convert.ToByte(Destination[..2], 16) & 1) != 0;
    public bool IsArpRequest => EtherType == TypeArp && ArpOperation == 1;
    public bool IsArpReply => EtherType == TypeArp && ArpOperation == 2;
    public bool IsIcmpEchoRequest => IpProtocol == ProtocolIcmp && IcmpType == 8;
    public bool IsIcmpEchoReply => IpProtocol == ProtocolIcmp && IcmpType == 0;

    public override string ToString()
    {
        var s = new StringBuilder($"{Source} > {Destination} type 0x{OuterType:x4}");
        if (Vlans.Count > 0)
            s.Append($" vlan {string.Join('/', Vlans)} inner 0x{EtherType:x4}");
        if (ArpOperation is int op)
            s.Append($" ARP op {op} {ArpSenderMac}/{ArpSenderIp} -> {ArpTargetMac}/{ArpTargetIp}");
        if (Ipv4Source is not null)
            s.Append($" IPv4 {Ipv4Source} > {Ipv4Destination} proto {IpProtocol}");
        if (IcmpType is int t)
            s.Append($" ICMP type {t}");
        if (Marker is not null)
            s.Append($" marker {Marker}");
        return s.Append($" ({Data.Length} bytes)").ToString();
    }

    /// <summary>
    /// Decodes <paramref name="frame"/> with PacketDotNet as far as its headers are whole; what
    /// lies beyond a cut or malformed header stays null, as a test that looks for it should see.
    /// </summary>
    public static FrameFacts Parse(byte[] frame)
    {
        var facts = new FrameFacts { Data = frame, Destination = "", Source = "", OuterType = 0, Vlans = [], EtherType = 0, Marker = FindMarker(frame) };
        if (frame.Length < EthernetFields.HeaderLength)
            return facts;
        EthernetPacket ethernet;
        try
        {
            ethernet = new EthernetPacket(new ByteArraySegment(frame));
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidOperationException)
        {
            return facts;
        }
        facts = facts with
        {
            Destination = Mac(ethernet.DestinationHardwareAddress),
            Source = Mac(ethernet.SourceHardwareAddress),
            OuterType = (ushort)ethernet.Type,
            EtherType = (ushort)ethernet.Type,
        };
        try
        {
            return Inner(facts, ethernet.PayloadPacket);
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidOperationException)
        {
            // A header PacketDotNet cannot read: the facts up to it stand.
            return facts;
        }
    }

    private static FrameFacts Inner(FrameFacts facts, Packet? payload)
    {
        var vlans = new List<int>();
        while (payload is Ieee8021QPacket tag)
        {
            vlans.Add(tag.VlanIdentifier);
            facts = facts with { EtherType = (ushort)tag.Type, Vlans = [.. vlans] };
            payload = tag.PayloadPacket;
        }
        switch (payload)
        {
            case ArpPacket arp:
                return facts with
                {
                    ArpOperation = (int)arp.Operation,
                    ArpSenderMac = Mac(arp.SenderHardwareAddress),
                    ArpSenderIp = arp.SenderProtocolAddress,
                    ArpTargetMac = Mac(arp.TargetHardwareAddress),
                    ArpTargetIp = arp.TargetProtocolAddress,
                };
            case IPv4Packet ip:
                facts = facts with { Ipv4Source = ip.SourceAddress, Ipv4Destination = ip.DestinationAddress, IpProtocol = (byte)ip.Protocol };
                return ip.PayloadPacket switch
                {
                    IcmpV4Packet icmp => facts with { IcmpType = (int)icmp.TypeCode >> 8, IcmpPayload = icmp.PayloadData ?? [] },
                    UdpPacket udp => facts with { UdpDestinationPort = udp.DestinationPort },
                    _ => facts,
                };
            default:
                return facts;
        }
    }

    public static FrameFacts Parse(PcapFrame frame) => Parse(frame.Data);

    private static string Mac(PhysicalAddress address) =>
        string.Join(':', address.GetAddressBytes().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));

    private static string? FindMarker(byte[] frame)
    {
        int start = frame.AsSpan().IndexOf(MarkerPrefix);
        if (start < 0)
            return null;
        int labelStart = start + MarkerPrefix.Length;
        int end = frame.AsSpan(labelStart).IndexOf((byte)']');
        return end < 0 ? null : Encoding.ASCII.GetString(frame, labelStart, end);
    }
}
