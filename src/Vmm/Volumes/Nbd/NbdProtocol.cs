// The NBD protocol as a client speaks it (github.com/NetworkBlockDevice/nbd, doc/proto.md):
// the fixed newstyle handshake ("Newstyle negotiation"), NBD_OPT_GO ("Option types"), and
// simple replies in the transmission phase ("Transmission", "Simple reply message"). Every
// number on the wire is big-endian. Structured replies are never asked for, so a reply is
// always a simple one.
using System.Buffers.Binary;

namespace VSwitch.Vmm.Volumes.Nbd;

internal static class NbdProtocol
{
    public const ulong InitMagic = 0x4e42444d41474943;       // "NBDMAGIC"
    public const ulong OptionMagic = 0x49484156454F5054;     // "IHAVEOPT"
    public const ulong OptionReplyMagic = 0x0003e889045565a9;
    public const uint RequestMagic = 0x25609513;
    public const uint SimpleReplyMagic = 0x67446698;

    // Handshake flags (server) and client flags.
    public const ushort FlagFixedNewstyle = 1 << 0;
    public const ushort FlagNoZeroes = 1 << 1;

    public const uint OptGo = 7;
    public const uint ReplyAck = 1;
    public const uint ReplyInfo = 3;
    public const uint ReplyErrorBit = 1u << 31;
    public const ushort InfoExport = 0;

    // Transmission flags, from NBD_INFO_EXPORT.
    public const ushort TransmitHasFlags = 1 << 0;
    public const ushort TransmitReadOnly = 1 << 1;
    public const ushort TransmitSendFlush = 1 << 2;
    public const ushort TransmitSendTrim = 1 << 5;
    public const ushort TransmitSendWriteZeroes = 1 << 6;

    public const ushort CommandFlagNoHole = 1 << 1;

    public const int RequestHeaderLength = 28;
    public const int SimpleReplyLength = 16;
    public const int OptionReplyHeaderLength = 20;
    /// <summary>An option reply this client reads whole: an NBD_REP_INFO or an error message; the spec caps strings at 4096 bytes.</summary>
    public const int MaxOptionReplyLength = 4096 + 64;

    /// <summary>The request header of the transmission phase: magic, flags, type, cookie, offset, length.</summary>
    public static void WriteRequest(Span<byte> header, NbdCommand command, ushort flags, ulong cookie, ulong offset, uint length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(header, RequestMagic);
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], flags);
        BinaryPrimitives.WriteUInt16BigEndian(header[6..], (ushort)command);
        BinaryPrimitives.WriteUInt64BigEndian(header[8..], cookie);
        BinaryPrimitives.WriteUInt64BigEndian(header[16..], offset);
        BinaryPrimitives.WriteUInt32BigEndian(header[24..], length);
    }

    /// <summary>NBD_OPT_GO for <paramref name="export"/>, asking for no information beyond what the server must send (NBD_INFO_EXPORT).</summary>
    public static byte[] GoOption(string export)
    {
        byte[] name = System.Text.Encoding.UTF8.GetBytes(export);
        byte[] option = new byte[16 + 4 + name.Length + 2];
        BinaryPrimitives.WriteUInt64BigEndian(option, OptionMagic);
        BinaryPrimitives.WriteUInt32BigEndian(option.AsSpan(8), OptGo);
        BinaryPrimitives.WriteUInt32BigEndian(option.AsSpan(12), (uint)(4 + name.Length + 2));
        BinaryPrimitives.WriteUInt32BigEndian(option.AsSpan(16), (uint)name.Length);
        name.CopyTo(option, 20);
        // The number of information requests that follow: none.
        BinaryPrimitives.WriteUInt16BigEndian(option.AsSpan(20 + name.Length), 0);
        return option;
    }

    /// <summary>What an NBD_REP_ERR_* reply means, for the message the operator reads.</summary>
    public static string OptionErrorName(uint reply) => (reply & ~ReplyErrorBit) switch
    {
        1 => "NBD_REP_ERR_UNSUP (the server does not support NBD_OPT_GO)",
        2 => "NBD_REP_ERR_POLICY (the server refuses this client)",
        3 => "NBD_REP_ERR_INVALID",
        4 => "NBD_REP_ERR_PLATFORM",
        5 => "NBD_REP_ERR_TLS_REQD (the export needs TLS, which vmm does not speak)",
        6 => "NBD_REP_ERR_UNKNOWN (no such export)",
        7 => "NBD_REP_ERR_SHUTDOWN (the server is shutting down)",
        8 => "NBD_REP_ERR_BLOCK_SIZE_REQD",
        9 => "NBD_REP_ERR_TOO_BIG",
        uint other => $"error reply {other}",
    };
}

/// <summary>Request types of the transmission phase ("Request types").</summary>
internal enum NbdCommand : ushort
{
    Read = 0,
    Write = 1,
    Disconnect = 2,
    Flush = 3,
    Trim = 4,
    WriteZeroes = 6,
}
