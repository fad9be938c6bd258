// IPv4 header (RFC 791 section 3.1).
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace VSwitch.Dataplane.Protocols;

public static class Ipv4
{
    public const int MinHeaderLength = 20;
    public const int TotalLengthOffset = 2;
    public const int IdentificationOffset = 4;
    public const int FlagsFragmentOffset = 6;
    public const int TtlOffset = 8;
    public const int ProtocolOffset = 9;
    public const int ChecksumOffset = 10;
    public const int SourceOffset = 12;
    public const int DestinationOffset = 16;

    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;

    /// <summary>Version 4, IHL 5: a header without options.</summary>
    public const byte VersionIhlNoOptions = 0x45;
    /// <summary>The DF flag in the flags/fragment-offset word.</summary>
    public const ushort DontFragment = 0x4000;
    /// <summary>MF flag and fragment offset: non-zero on every fragment.</summary>
    public const ushort FragmentMask = 0x3FFF;

    /// <summary>
    /// The one's-complement sum (RFC 1071) of the 16-bit big-endian words of <paramref name="data"/>,
    /// not yet folded or complemented, so partial sums of a header can be combined.
    /// </summary>
    public static uint OnesComplementSum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i));
        if (i < data.Length)
            sum += (uint)data[i] << 8;
        return sum;
    }

    /// <summary>Folds a one's-complement sum to 16 bits and complements it: the header checksum field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FoldChecksum(uint sum)
    {
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>The RFC 791 header checksum of a header whose checksum field is zero.</summary>
    public static ushort HeaderChecksum(ReadOnlySpan<byte> header) => FoldChecksum(OnesComplementSum(header));

    /// <summary>True when the header's checksum verifies (its one's-complement sum is 0xFFFF).</summary>
    public static bool ChecksumVerifies(ReadOnlySpan<byte> header) => FoldChecksum(OnesComplementSum(header)) == 0;

    /// <summary>
    /// True when a header without options (the 20 bytes at the start of <paramref name="header"/>)
    /// verifies: the one's-complement sum of its words, checksum included, is 0xFFFF (RFC 1071).
    /// For the decapsulation hot path: five 32-bit loads in little-endian order and one remainder
    /// by a constant (a multiply), no loop and no byte swaps. That is exact: the sum's verdict does
    /// not depend on byte order (RFC 1071 section 2(B)), a 32-bit word is its two 16-bit halves
    /// modulo 0xFFFF, and a sum of words that are not all zero folds to 0xFFFF exactly when it is
    /// a multiple of 0xFFFF (an all-zero header is not IPv4 and was refused before).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ChecksumVerifiesNoOptions(ReadOnlySpan<byte> header)
    {
        ReadOnlySpan<byte> h = header.Slice(0, MinHeaderLength);
        ulong sum = (ulong)BinaryPrimitives.ReadUInt32LittleEndian(h)
            + BinaryPrimitives.ReadUInt32LittleEndian(h.Slice(4))
            + BinaryPrimitives.ReadUInt32LittleEndian(h.Slice(8))
            + BinaryPrimitives.ReadUInt32LittleEndian(h.Slice(12))
            + BinaryPrimitives.ReadUInt32LittleEndian(h.Slice(16));
        return sum % 0xFFFF == 0;
    }

    /// <summary>
    /// Checks the header against its own claims: version 4, IHL of at least 5 words, an IHL and a
    /// total length that fit in what was received, and a total length no shorter than the header.
    /// Returns the header length, or 0 when the header is malformed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ValidHeaderLength(ReadOnlySpan<byte> packet) => ValidHeaderLength(packet, out _);

    /// <inheritdoc cref="ValidHeaderLength(ReadOnlySpan{byte})"/>
    /// <param name="totalLength">The header's total length field, once the header is valid (0 otherwise).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ValidHeaderLength(ReadOnlySpan<byte> packet, out int totalLength)
    {
        totalLength = 0;
        if (packet.Length < MinHeaderLength)
            return 0;
        // Of constant length: the fixed-offset reads need no bounds checks.
        ReadOnlySpan<byte> header = packet.Slice(0, MinHeaderLength);
        byte versionIhl = header[0];
        int headerLength = (versionIhl & 0xF) * 4;
        // Each range as one unsigned compare (every frame from a VM passes here): MinHeaderLength
        // <= headerLength <= packet.Length, then headerLength <= total <= packet.Length.
        if ((versionIhl & 0xF0) != 0x40 || (uint)(headerLength - MinHeaderLength) > (uint)(packet.Length - MinHeaderLength))
            return 0;
        int total = BinaryPrimitives.ReadUInt16BigEndian(header.Slice(TotalLengthOffset));
        if ((uint)(total - headerLength) > (uint)(packet.Length - headerLength))
            return 0;
        totalLength = total;
        return headerLength;
    }

    /// <summary>
    /// Parses dotted-quad text such as 10.0.0.1. Unlike IPAddress.Parse it refuses the inet_aton
    /// shorthands ("10.1", "167772161") and leading zeros, which inet_aton reads as octal: in a
    /// configuration file "010.0.0.1" must not quietly mean 8.0.0.1.
    /// </summary>
    public static uint ParseAddress(string text) =>
        TryParseDottedQuad(text, out uint address) ? address : throw new FormatException($"'{text}' is not an IPv4 address");

    private static bool TryParseDottedQuad(string text, out uint address)
    {
        address = 0;
        string[] octets = text.Split('.');
        if (octets.Length != 4)
            return false;
        foreach (string octet in octets)
        {
            if (octet.Length is 0 or > 3 || (octet.Length > 1 && octet[0] == '0') || !octet.All(char.IsAsciiDigit))
                return false;
            uint value = uint.Parse(octet, CultureInfo.InvariantCulture);
            if (value > 255)
                return false;
            address = address << 8 | value;
        }
        return true;
    }

    public static string Format(uint address) =>
        $"{address >> 24}.{(address >> 16) & 0xFF}.{(address >> 8) & 0xFF}.{address & 0xFF}";
}
