// IEEE 802 MAC-48 addresses kept as the low 48 bits of a ulong, first octet most significant,
// so they hash, compare and print without allocation.
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace VSwitch.Dataplane.Protocols;

public static class MacAddress
{
    public const ulong Broadcast = 0xFFFF_FFFF_FFFFUL;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Read(ReadOnlySpan<byte> six) =>
        (ulong)BinaryPrimitives.ReadUInt16BigEndian(six) << 32 | BinaryPrimitives.ReadUInt32BigEndian(six.Slice(2, 4));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(Span<byte> six, ulong mac)
    {
        BinaryPrimitives.WriteUInt16BigEndian(six, (ushort)(mac >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(six.Slice(2, 4), (uint)mac);
    }

    /// <summary>The I/G bit (first octet, least significant bit) marks group addresses: broadcast and multicast.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsGroup(ulong mac) => (mac & 0x0100_0000_0000UL) != 0;

    /// <summary>
    /// Parses six two-digit hex octets separated by ':' or by '-', the same one throughout, such
    /// as 02:00:00:00:00:01.
    /// </summary>
    public static bool TryParse(string? text, out ulong mac)
    {
        mac = 0;
        if (text is null || text.Length != 17 || text[2] is not (':' or '-'))
            return false;
        char separator = text[2];
        for (int i = 0; i < 6; i++)
        {
            // AllowHexSpecifier alone: NumberStyles.HexNumber also allows white space, so " 1" would pass as an octet.
            if ((i < 5 && text[i * 3 + 2] != separator)
                || !byte.TryParse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte octet))
            {
                mac = 0;
                return false;
            }
            mac = mac << 8 | octet;
        }
        return true;
    }

    public static string Format(ulong mac) => string.Create(17, mac, static (chars, m) =>
    {
        for (int i = 0; i < 6; i++)
        {
            byte octet = (byte)(m >> (40 - 8 * i));
            chars[i * 3] = "0123456789abcdef"[octet >> 4];
            chars[i * 3 + 1] = "0123456789abcdef"[octet & 0xF];
            if (i < 5)
                chars[i * 3 + 2] = ':';
        }
    });

    /// <summary>
    /// The IPv6 link-local address a host derives from its MAC by modified EUI-64
    /// (RFC 4291 appendix A, RFC 4862 section 5.3): fe80::/64 with the U/L bit flipped and ff:fe inserted.
    /// </summary>
    public static UInt128 LinkLocalIpv6(ulong mac)
    {
        ulong eui64 = ((mac >> 24) << 40) | (0xFFFEUL << 24) | (mac & 0xFF_FFFF);
        eui64 ^= 0x0200_0000_0000_0000UL;
        return new UInt128(0xFE80_0000_0000_0000UL, eui64);
    }
}
