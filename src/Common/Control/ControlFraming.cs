// Wire format of the control sockets (docs/control-socket.md, "Framing" and "Envelope"): each message is a
// 4-byte big-endian unsigned length, then that many bytes of UTF-8 JSON holding one JSON object.
// Both directions use it.
using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VSwitch.Common.Control;

public enum FrameStatus
{
    /// <summary>Fewer bytes than the header, or than the header says; read more.</summary>
    Incomplete,
    Complete,
    /// <summary>The header declares more than <see cref="ControlFraming.MaxMessageLength"/>; the connection cannot be resynchronised.</summary>
    Oversize,
}

public static class ControlFraming
{
    public const int HeaderLength = 4;

    /// <summary>1 MiB: a full "list" of a large host is tens of KiB, so this only stops a broken
    /// or hostile peer from making a daemon buffer gigabytes.</summary>
    public const int MaxMessageLength = 1 << 20;

    /// <summary>
    /// Takes one frame off the front of <paramref name="buffer"/>. On Complete,
    /// <paramref name="payload"/> is the JSON (a slice of the input, not a copy) and
    /// <paramref name="buffer"/> is what follows it; otherwise <paramref name="buffer"/> is
    /// unchanged. <paramref name="declaredLength"/> is set as soon as the header is in.
    /// </summary>
    public static FrameStatus TryReadFrame(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> payload, out uint declaredLength)
    {
        payload = default;
        declaredLength = 0;
        if (buffer.Length < HeaderLength)
            return FrameStatus.Incomplete;

        Span<byte> header = stackalloc byte[HeaderLength];
        buffer.Slice(0, HeaderLength).CopyTo(header);
        declaredLength = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (declaredLength > MaxMessageLength)
            return FrameStatus.Oversize;
        if (buffer.Length - HeaderLength < declaredLength)
            return FrameStatus.Incomplete;

        payload = buffer.Slice(HeaderLength, declaredLength);
        buffer = buffer.Slice(payload.End);
        return FrameStatus.Complete;
    }

    /// <summary>Writes the header and <paramref name="payload"/>; nothing is written if it is over the limit.</summary>
    /// <exception cref="ArgumentException">The payload is longer than <see cref="MaxMessageLength"/>.</exception>
    public static void WriteFrame(IBufferWriter<byte> output, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxMessageLength)
            throw new ArgumentException($"message of {payload.Length} bytes exceeds the {MaxMessageLength}-byte limit", nameof(payload));
        BinaryPrimitives.WriteUInt32BigEndian(output.GetSpan(HeaderLength), (uint)payload.Length);
        output.Advance(HeaderLength);
        output.Write(payload);
    }

    /// <summary>Serializes <paramref name="message"/> and writes it as one frame; nothing is written if it does not fit.</summary>
    /// <exception cref="ArgumentException">The serialized message is longer than <see cref="MaxMessageLength"/>.</exception>
    public static void WriteFrame(IBufferWriter<byte> output, JsonNode message)
    {
        // Serialized aside first: the header needs the length before the first byte of JSON.
        var payload = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(payload))
            message.WriteTo(json);
        WriteFrame(output, payload.WrittenSpan);
    }
}
