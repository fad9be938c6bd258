// IPv6 Neighbor Discovery (RFC 4861 section 4) and DHCP frames, written out octet by octet from the
// RFCs' layouts rather than with the switch's own constants, for the first-hop checks.
using System.Buffers.Binary;
using System.Net;

namespace VSwitch.Tests.Unit.Switching;

internal static class FirstHopFrames
{
    public const byte UdpNext = 17, Icmpv6Next = 58, HopByHop = 0, DestinationOptions = 60, Fragment = 44, Routing = 43;

    /// <summary>Ethernet + IPv6 (RFC 8200 section 3) around <paramref name="payload"/>; <paramref name="extensions"/> are (next header of the header, its bytes) in order.</summary>
    public static byte[] Ipv6(string srcMac, string dstMac, string srcIp, string dstIp, byte protocol, byte[] payload, params (byte Type, byte[] Bytes)[] extensions)
    {
        byte first = extensions.Length > 0 ? extensions[0].Type : protocol;
        var chain = new List<byte>();
        for (int i = 0; i < extensions.Length; i++)
        {
            byte[] header = (byte[])extensions[i].Bytes.Clone();
            header[0] = i + 1 < extensions.Length ? extensions[i + 1].Type : protocol;
            chain.AddRange(header);
        }
        chain.AddRange(payload);
        var frame = new byte[14 + 40 + chain.Count];
        Frames.Mac(dstMac).GetAddressBytes().CopyTo(frame, 0);
        Frames.Mac(srcMac).GetAddressBytes().CopyTo(frame, 6);
        frame[12] = 0x86;
        frame[13] = 0xDD;
        frame[14] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(18), (ushort)chain.Count);
        frame[20] = first;
        frame[21] = 255;
        IPAddress.Parse(srcIp).GetAddressBytes().CopyTo(frame, 22);
        IPAddress.Parse(dstIp).GetAddressBytes().CopyTo(frame, 38);
        chain.CopyTo(frame, 54);
        return frame;
    }

    /// <summary>An 8-octet Hop-by-Hop or Destination Options header holding one PadN option.</summary>
    public static byte[] Options8 => [0, 0, 1, 4, 0, 0, 0, 0];

    /// <summary>A Fragment header (RFC 8200 section 4.5): offset in 8-octet units, M flag.</summary>
    public static byte[] FragmentHeader(int offset, bool more) =>
        [0, 0, (byte)(offset >> 5), (byte)((offset << 3) & 0xF8 | (more ? 1 : 0)), 0, 0, 0, 1];

    /// <summary>Neighbor Advertisement (section 4.4), S and O flags, with a Target Link-Layer Address option (4.6.1) when <paramref name="tlla"/> is given.</summary>
    public static byte[] NeighborAdvertisement(string target, string? tlla, params byte[][] moreOptions)
    {
        var message = new List<byte> { 136, 0, 0, 0, 0x60, 0, 0, 0 };
        message.AddRange(IPAddress.Parse(target).GetAddressBytes());
        if (tlla is not null)
            message.AddRange([2, 1, .. Frames.Mac(tlla).GetAddressBytes()]);
        foreach (byte[] option in moreOptions)
            message.AddRange(option);
        return [.. message];
    }

    /// <summary>Router Advertisement (section 4.2) with no options, or a Redirect (4.5) naming a target and destination.</summary>
    public static byte[] RouterAdvertisement => [134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0];

    public static byte[] Redirect => [137, 0, 0, 0, 0, 0, 0, 0, .. IPAddress.Parse("fe80::1").GetAddressBytes(), .. IPAddress.Parse("fd00::99").GetAddressBytes()];

    public static byte[] EchoRequest => [128, 0, 0, 0, 0, 1, 0, 1];

    /// <summary>A UDP header (RFC 768) and payload; the checksum is left 0.</summary>
    public static byte[] UdpDatagram(ushort source, ushort destination, int payload = 16)
    {
        var udp = new byte[8 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(udp, source);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), destination);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        return udp;
    }

    /// <summary>IPv4 UDP with the fragment word set (RFC 791 section 3.1) and the total length cut to <paramref name="udpBytes"/> of UDP.</summary>
    public static byte[] Udp4Cut(string srcMac, string dstMac, string srcIp, string dstIp, ushort srcPort, ushort dstPort, int udpBytes, ushort fragment = 0)
    {
        byte[] frame = Frames.Udp4(srcMac, dstMac, srcIp, dstIp, srcPort, dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + 2), (ushort)(20 + udpBytes));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + 6), fragment);
        return frame.AsSpan(0, 14 + 20 + udpBytes).ToArray();
    }
}
