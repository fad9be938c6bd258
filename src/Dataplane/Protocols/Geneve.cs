// GENEVE header and options, RFC 8926 sections 3.4 and 3.5: after a UDP header to port 6081.
//   Ver (2) | Opt Len (6, in 4-byte words) | O (1) | C (1) | Rsvd (6) | Protocol Type (16)
//   VNI (24) | Reserved (8)
//   options: Option Class (16) | Type (8, the high bit is "critical") | R (3) | Length (5, words) | data
// Section 3.5.1: "If a tunnel endpoint receives a packet with a critical option that it does not
// understand, it MUST drop the packet." The options this switch understands are the ones agreed with
// the sending host (its remote_hosts[].geneve_options); any other option with the critical bit drops
// the frame whether or not the C flag says so, because the C flag is only a hint that one is present.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Collections;
using VSwitch.Dataplane.Counters;

namespace VSwitch.Dataplane.Protocols;

public static class Geneve
{
    public const int HeaderLength = 8;
    /// <summary>IANA-assigned UDP port (RFC 8926 section 3.3).</summary>
    public const ushort UdpPort = 6081;
    /// <summary>Transparent Ethernet bridging: the payload is an Ethernet frame (RFC 8926 section 3.4).</summary>
    public const ushort ProtocolEthernet = 0x6558;
    public const int OptionHeaderLength = 4;
    /// <summary>Opt Len is 6 bits of 4-byte words: at most 252 bytes of options.</summary>
    public const int MaxOptionsLength = 63 * 4;
    /// <summary>An option's Length is 5 bits of 4-byte words: at most 124 bytes of data.</summary>
    public const int MaxOptionDataLength = 31 * 4;
    public const byte FlagControl = 0x80;
    public const byte FlagCritical = 0x40;
    /// <summary>The critical bit of an option's Type.</summary>
    public const byte OptionTypeCritical = 0x80;

    /// <summary>The key under which an option (class, type) is known: class &lt;&lt; 8 | type.</summary>
    public static uint OptionKey(ushort optionClass, byte type) => (uint)optionClass << 8 | type;

    /// <summary>Bytes the encoded options take: a 4-byte header per option plus its data.</summary>
    public static int OptionsLength(IEnumerable<GeneveOption> options) => options.Sum(o => OptionHeaderLength + o.Data.Length);

    /// <summary>Writes the fixed header and the options; the C flag is set when any option is critical.</summary>
    public static int Write(Span<byte> header, uint vni, IReadOnlyList<GeneveOption> options)
    {
        int optionsLength = OptionsLength(options);
        bool critical = options.Any(o => (o.Type & OptionTypeCritical) != 0);
        header[0] = (byte)(optionsLength / 4);
        header[1] = critical ? FlagCritical : (byte)0;
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(2), ProtocolEthernet);
        BinaryPrimitives.WriteUInt32BigEndian(header.Slice(4), vni << 8);
        int at = HeaderLength;
        foreach (GeneveOption option in options)
        {
            BinaryPrimitives.WriteUInt16BigEndian(header.Slice(at), option.Class);
            header[at + 2] = option.Type;
            header[at + 3] = (byte)(option.Data.Length / 4);
            option.Data.CopyTo(header.Slice(at + OptionHeaderLength));
            at += OptionHeaderLength + option.Data.Length;
        }
        return at;
    }

    /// <summary>
    /// Validates a received header and walks its options. <paramref name="known"/> holds the
    /// OptionKey of every option this host understands. On success returns DropReason.None with
    /// the VNI, the header length including options (where the inner frame starts), and how many
    /// options there were and how many of them were critical.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Parse(ReadOnlySpan<byte> packet, ReadOnlySpan<uint> known, out GeneveHeader header)
    {
        header = default;
        if (packet.Length < HeaderLength || packet[0] >> 6 != 0)
            return DropReason.MalformedTunnelHeader;
        if (BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(2)) != ProtocolEthernet)
            return DropReason.MalformedTunnelHeader;
        int length = HeaderLength + (packet[0] & 0x3F) * 4;
        if (length > packet.Length)
            return DropReason.BadGeneveOptionLength;
        if ((packet[1] & FlagControl) != 0)
            return DropReason.GeneveControlPacket;

        int options = 0, critical = 0;
        int at = HeaderLength;
        while (at < length)
        {
            if (at + OptionHeaderLength > length)
                return DropReason.BadGeneveOptionLength;
            int end = at + OptionHeaderLength + (packet[at + 3] & 0x1F) * 4;
            if (end > length)
                return DropReason.BadGeneveOptionLength;
            byte type = packet[at + 2];
            if ((type & OptionTypeCritical) != 0)
            {
                if (!ShortLists.Contains(known, OptionKey(BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(at)), type)))
                    return DropReason.GeneveCriticalOption;
                critical++;
            }
            options++;
            at = end;
        }
        header = new GeneveHeader(BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(4)) >> 8, length, options, critical);
        return DropReason.None;
    }
}

/// <param name="Length">Fixed header plus options: where the inner frame starts.</param>
public readonly record struct GeneveHeader(uint Vni, int Length, int Options, int CriticalOptions);

/// <summary>One TLV option as configured: class, type (its high bit is the critical bit), data of a multiple of 4 bytes.</summary>
public sealed record GeneveOption(ushort Class, byte Type, byte[] Data);
