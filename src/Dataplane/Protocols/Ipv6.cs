// IPv6 fixed header (RFC 8200 section 3).
using System.Buffers.Binary;
using System.Net;

namespace VSwitch.Dataplane.Protocols;

public static class Ipv6
{
    public const int HeaderLength = 40;
    public const int PayloadLengthOffset = 4;
    public const int SourceOffset = 8;
    public const int DestinationOffset = 24;

    /// <summary>True when the fixed header is complete, says version 6, and its payload length fits.</summary>
    public static bool IsValidHeader(ReadOnlySpan<byte> packet) =>
        packet.Length >= HeaderLength
        && packet[0] >> 4 == 6
        && HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(PayloadLengthOffset)) <= packet.Length;

    public static UInt128 ReadAddress(ReadOnlySpan<byte> sixteen) => BinaryPrimitives.ReadUInt128BigEndian(sixteen);

    /// <summary>
    /// Parses RFC 4291 text such as fd00::1. IPAddress also takes a zone ("fe80::1%eth0") and
    /// brackets; both are refused because the zone would be dropped without a word.
    /// </summary>
    public static UInt128 ParseAddress(string text) =>
        text.AsSpan().IndexOfAny('%', '[', ']') < 0
        && IPAddress.TryParse(text, out IPAddress? ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? BinaryPrimitives.ReadUInt128BigEndian(ip.GetAddressBytes())
            : throw new FormatException($"'{text}' is not an IPv6 address");

    public static string Format(UInt128 address)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, address);
        return new IPAddress(bytes).ToString();
    }
}
