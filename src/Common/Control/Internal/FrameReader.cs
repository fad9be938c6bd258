// Pulls framed JSON messages off a PipeReader; the server and the client read through it.
using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Common.Sockets;

namespace VSwitch.Common.Control;

internal enum FrameKind
{
    /// <summary>A complete message that is valid JSON; <see cref="Frame.Message"/> may still be any JSON value, null included.</summary>
    Message,
    /// <summary>A complete message that is not valid JSON; the stream is still in step.</summary>
    Invalid,
    /// <summary>The header declares too long a message; the stream cannot be resynchronised.</summary>
    Oversize,
    /// <summary>The peer closed the connection part-way through a message.</summary>
    Truncated,
    /// <summary>The peer closed the connection between messages.</summary>
    End,
    /// <summary>The peer sent nothing for the idle timeout, or stalled part-way through a message for the frame timeout.</summary>
    TimedOut,
}

internal readonly record struct Frame(FrameKind Kind, JsonNode? Message = null, string? Error = null);

/// <param name="clock">The server's: how long each read may wait (ConnectionLimits); null waits for ever.</param>
internal sealed class FrameReader(PipeReader input, MessageClock? clock = null)
{
    /// <summary>Bytes of an incomplete message examined by the last read.</summary>
    private long _partial;

    public async ValueTask<Frame> ReadAsync(CancellationToken ct)
    {
        while (true)
        {
            if (await ReadWithinAsync(ct).ConfigureAwait(false) is not ReadResult result)
                return new Frame(FrameKind.TimedOut, Error: clock!.Expired(_partial > 0, _partial));
            ReadOnlySequence<byte> buffer = result.Buffer;
            switch (ControlFraming.TryReadFrame(ref buffer, out ReadOnlySequence<byte> payload, out uint length))
            {
                case FrameStatus.Complete:
                    // Parsed before AdvanceTo, after which the pipe may reuse the payload's memory.
                    Frame frame = Parse(payload);
                    input.AdvanceTo(buffer.Start);
                    _partial = 0;
                    clock?.MessageTaken();
                    return frame;
                case FrameStatus.Oversize:
                    input.AdvanceTo(buffer.Start);
                    return new Frame(FrameKind.Oversize, Error: $"message of {length} bytes exceeds the {ControlFraming.MaxMessageLength}-byte limit");
            }

            // Nothing consumed but everything examined, so the next ReadAsync waits for new bytes
            // instead of returning the same partial frame again.
            input.AdvanceTo(buffer.Start, buffer.End);
            _partial = buffer.Length;
            if (result.IsCompleted)
            {
                return buffer.IsEmpty
                    ? new Frame(FrameKind.End)
                    : new Frame(FrameKind.Truncated, Error: $"the connection closed {buffer.Length} bytes into a message");
            }
        }
    }

    /// <summary>The next read, or null if the clock ran out first.</summary>
    private async ValueTask<ReadResult?> ReadWithinAsync(CancellationToken ct)
    {
        if (clock is null)
            return await input.ReadAsync(ct).ConfigureAwait(false);
        while (true)
        {
            TimeSpan wait = clock.NextWait(midMessage: _partial > 0);
            if (wait <= TimeSpan.Zero)
                return null;
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timer.CancelAfter(wait);
            try
            {
                return await input.ReadAsync(timer.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // Timers run on a coarse clock (Environment.TickCount64, a few ms a step on
                // Linux) and may fire before the clock's Stopwatch says the time is up; the loop
                // waits out the rest, so no client is cut off before its timeout.
            }
        }
    }

    private static Frame Parse(ReadOnlySequence<byte> payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload);
            JsonNode? message = JsonNode.Parse(ref reader);
            // Parse stops after one value; with the input final, Read() throws on anything but
            // trailing whitespace, which rejects "{...} garbage".
            reader.Read();
            Materialize(message);
            return new Frame(FrameKind.Message, message);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            return new Frame(FrameKind.Invalid, Error: "invalid JSON: " + ex.Message);
        }
    }

    /// <summary>
    /// JsonNode decodes lazily: a duplicate key (ArgumentException), invalid UTF-8 or a lone
    /// surrogate escape in a string (InvalidOperationException) would otherwise surface later,
    /// inside a handler, as an internal error instead of as the client's bad JSON.
    /// </summary>
    private static void Materialize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (KeyValuePair<string, JsonNode?> property in obj)
                    Materialize(property.Value);
                break;
            case JsonArray array:
                foreach (JsonNode? item in array)
                    Materialize(item);
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                value.GetValue<string>();
                break;
        }
    }
}
