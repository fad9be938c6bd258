// How long a control connection's next read may wait. Between messages a client may think for
// ConnectionLimits.IdleTimeout; once a message has started, the rest of it must arrive within
// FrameTimeout of its first byte, so a client that sends half a message and stalls does not hold
// the server's buffer (up to a whole message) for longer than that.
using System.Diagnostics;

namespace VSwitch.Common.Sockets;

public sealed class MessageClock(ConnectionLimits limits)
{
    /// <summary>When the current wait (between messages, or for the rest of one) began; -1 before the first read of it.</summary>
    private long _start = -1;
    private bool _midMessage;

    /// <summary>
    /// What is left of the current wait: of the idle timeout while no part of a message is
    /// buffered, else of the frame timeout, counted from the first read that found the message
    /// incomplete. Zero or less: the time is up. Asking again after a read that brought no whole
    /// message gives what is left of the same wait.
    /// </summary>
    public TimeSpan NextWait(bool midMessage)
    {
        if (_start < 0 || midMessage != _midMessage)
        {
            _start = Stopwatch.GetTimestamp();
            _midMessage = midMessage;
        }
        return (midMessage ? limits.FrameTimeout : limits.IdleTimeout) - Stopwatch.GetElapsedTime(_start);
    }

    /// <summary>A whole message was taken: the next wait starts afresh.</summary>
    public void MessageTaken() => _start = -1;

    /// <summary>What the server logs (and tells the client, if it still can) when a wait ran out.</summary>
    public string Expired(bool midMessage, long bufferedBytes) => midMessage
        ? $"timed out: {bufferedBytes} bytes of a message and no more for {limits.FrameTimeout.TotalSeconds} s (frame timeout)"
        : $"timed out: no request for {limits.IdleTimeout.TotalSeconds} s (idle timeout)";
}
