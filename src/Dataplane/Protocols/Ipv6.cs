// IPv6 fixed header (RFC 8200 section 3) and its extension header chain (section 4).
using System.Buffers.Binary;
using System.Net;

namespace VSwitch.Dataplane.Protocols;

public static class Ipv6
{
    public const int HeaderLength = 40;
    public const int PayloadLengthOffset = 4;
    public const int NextHeaderOffset = 6;
    public const int SourceOffset = 8;
    public const int DestinationOffset = 24;

    /// <summary>True when the fixed header is complete, says version 6, and its payload length fits.</summary>
    public static bool IsValidHeader(ReadOnlySpan<byte> packet) =>
        packet.Length >= HeaderLength
        && packet[0] >> 4 == 6
        && HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(PayloadLengthOffset)) <= packet.Length;

    // Next Header values (IANA "Assigned Internet Protocol Numbers").
    public const byte HopByHop = 0;
    public const byte NextHeaderTcp = 6;
    public const byte NextHeaderUdp = 17;
    public const byte Routing = 43;
    public const byte Fragment = 44;
    public const byte AuthenticationHeader = 51;
    public const byte NextHeaderIcmpv6 = 58;
    public const byte DestinationOptions = 60;

    /// <summary>
    /// More extension headers than any sender needs: RFC 8200 section 4.1 allows each at most
    /// once (Destination Options twice), so a longer chain is malformed, and the walk stays bounded.
    /// </summary>
    public const int MaxExtensionHeaders = 8;

    /// <summary>
    /// Walks the extension headers of a packet whose fixed header is valid to its upper-layer
    /// header (RFC 8200 section 4). Returns false when the chain is malformed: cut short by the
    /// payload length, or longer than <see cref="MaxExtensionHeaders"/>. Otherwise
    /// <paramref name="protocol"/> is the upper-layer Next Header value and
    /// <paramref name="upper"/> the rest of the payload, except for a fragment other than the
    /// first, which carries no upper-layer header: its protocol is reported as
    /// <see cref="Fragment"/>. ESP, No Next Header and unknown values end the walk as the protocol.
    /// </summary>
    public static bool TryFindUpperLayer(ReadOnlySpan<byte> packet, out byte protocol, out ReadOnlySpan<byte> upper)
    {
        // The payload length, not the frame, bounds the packet: Ethernet padding is not payload.
        ReadOnlySpan<byte> rest = packet.Slice(HeaderLength, BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(PayloadLengthOffset)));
        protocol = packet[NextHeaderOffset];
        for (int headers = 0; ; headers++)
        {
            upper = rest;
            int length;
            switch (protocol)
            {
                case HopByHop or Routing or DestinationOptions:
                    length = rest.Length < 2 ? -1 : (rest[1] + 1) * 8; // Hdr Ext Len: 8-octet units after the first 8
                    break;
                case AuthenticationHeader:
                    length = rest.Length < 2 ? -1 : (rest[1] + 2) * 4; // RFC 4302 section 2.2: 4-octet units minus 2
                    break;
                case Fragment:
                    length = 8;
                    // A fragment other than the first carries no upper-layer header (section 4.5).
                    if (rest.Length >= length && (BinaryPrimitives.ReadUInt16BigEndian(rest.Slice(2)) & 0xFFF8) != 0)
                        return true;
                    break;
                default:
                    return true;
            }
            if (length < 0 || length > rest.Length || headers == MaxExtensionHeaders)
                return false;
            protocol = rest[0];
            rest = rest.Slice(length);
        }
    }

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
