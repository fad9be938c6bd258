// How long a control connection's next read may wait. Between messages a client may think for
// ConnectionLimits.IdleTimeout; once a message has started, the rest of it must arrive within
// FrameTimeout of its first byte, so a client that sends half a message and stalls does not hold
// the server's buffer (up to a whole message) for longer than that.
using System.Diagnostics;

namespace VSwitch.Common.Sockets;

public sealed class MessageClock(ConnectionLimits limits)
{
    private long _messageStart = -1;

    /// <summary>
    /// The wait for the next read: the idle timeout when no part of a message is buffered, else
    /// what is left of the message's time, counted from the first read that found it incomplete.
    /// Zero or less: the time is up.
    /// </summary>
    public TimeSpan NextWait(bool midMessage)
    {
        if (!midMessage)
        {
            _messageStart = -1;
            return limits.IdleTimeout;
        }
        if (_messageStart < 0)
            _messageStart = Stopwatch.GetTimestamp();
        return limits.FrameTimeout - Stopwatch.GetElapsedTime(_messageStart);
    }

    /// <summary>What the server logs (and tells the client, if it still can) when a wait ran out.</summary>
    public string Expired(bool midMessage, long bufferedBytes) => midMessage
        ? $"timed out: {bufferedBytes} bytes of a message and no more for {limits.FrameTimeout.TotalSeconds} s (frame timeout)"
        : $"timed out: no request for {limits.IdleTimeout.TotalSeconds} s (idle timeout)";
}
