// What a test needs to know about a captured Ethernet frame, decoded independently of the
// dataplane's own parsers (a system test must not trust the code it tests): addresses,
// EtherType after any VLAN tags, ARP fields, IPv4/ICMP/UDP basics, and a test marker
// ("VSWT[label]") searched anywhere in the frame.
using System.Buffers.Binary;
using System.Net;
using System.Text;

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

    public static FrameFacts Parse(byte[] frame)
    {
        if (frame.Length < 14)
            return new FrameFacts { Data = frame, Destination = "", Source = "", OuterType = 0, Vlans = [], EtherType = 0, Marker = FindMarker(frame) };
        ushort outer = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12));
        ushort type = outer;
        int offset = 14;
        var vlans = new List<int>();
        while ((type == TypeVlan || type == TypeQinQ) && frame.Length >= offset + 4)
        {
            vlans.Add(BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(offset)) & 0x0FFF);
            type = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(offset + 2));
            offset += 4;
        }

        var facts = new FrameFacts
        {
            Data = frame,
            Destination = Mac(frame, 0),
            Source = Mac(frame, 6),
            OuterType = outer,
            Vlans = vlans,
            EtherType = type,
            Marker = FindMarker(frame),
        };
        ReadOnlySpan<byte> l3 = frame.AsSpan(offset);
        if (type == TypeArp && l3.Length >= 28)
        {
            return facts with
            {
                ArpOperation = BinaryPrimitives.ReadUInt16BigEndian(l3.Slice(6)),
                ArpSenderMac = Mac(frame, offset + 8),
                ArpSenderIp = new IPAddress(l3.Slice(14, 4)),
                ArpTargetMac = Mac(frame, offset + 18),
                ArpTargetIp = new IPAddress(l3.Slice(24, 4)),
            };
        }
        if (type == TypeIpv4 && l3.Length >= 20 && l3[0] >> 4 == 4)
        {
            int ihl = (l3[0] & 0x0F) * 4;
            byte protocol = l3[9];
            facts = facts with
            {
                Ipv4Source = new IPAddress(l3.Slice(12, 4)),
                Ipv4Destination = new IPAddress(l3.Slice(16, 4)),
                IpProtocol = protocol,
            };
            if (l3.Length < ihl + 8)
                return facts;
            ReadOnlySpan<byte> l4 = l3.Slice(ihl);
            if (protocol == ProtocolIcmp)
                return facts with { IcmpType = l4[0], IcmpPayload = l4.Slice(8).ToArray() };
            if (protocol == ProtocolUdp)
                return facts with { UdpDestinationPort = BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(2)) };
        }
        return facts;
    }

    public static FrameFacts Parse(PcapFrame frame) => Parse(frame.Data);

    private static string Mac(byte[] frame, int offset) => Convert.ToHexString(frame, offset, 6).ToLowerInvariant()
        .Chunk(2).Select(c => new string(c)).Aggregate((a, b) => $"{a}:{b}");

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
