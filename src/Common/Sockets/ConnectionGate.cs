// The door of a control socket: every accepted connection passes it before the server reads a
// byte. It checks the peer's credentials against ConnectionLimits and counts the connections
// open, so a server holds at most MaxConnections buffers and (vmm) threads.
using System.Net.Sockets;

namespace VSwitch.Common.Sockets;

public sealed class ConnectionGate(ConnectionLimits limits)
{
    private static readonly PeerCredentials s_self = PeerCredentials.OfThisProcess();
    private int _open;

    public ConnectionLimits Limits { get; } = limits;

    /// <summary>Connections admitted and not yet released.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>
    /// Admits <paramref name="client"/> (the caller then owes one <see cref="Release"/>) or
    /// returns why not: the error to send it before closing it.
    /// </summary>
    public string? TryAdmit(Socket client)
    {
        PeerCredentials peer;
        try
        {
            peer = PeerCredentials.Of(client);
        }
        catch (SocketException e)
        {
            return $"permission denied: cannot read the peer's credentials ({e.Message})";
        }
        if (Limits.Refusal(peer, s_self.Uid, s_self.Gid) is { } refusal)
            return refusal;
        if (Interlocked.Increment(ref _open) > Limits.MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            return Limits.TooManyConnections;
        }
        return null;
    }

    public void Release() => Interlocked.Decrement(ref _open);

    /// <summary>
    /// Sends <paramref name="message"/> if the socket's buffer takes it at once, never waiting,
    /// then closes <paramref name="client"/>: a refused or timed-out client is told why, and the
    /// server never blocks on one that does not read. What the client had sent is read and
    /// dropped first: a Unix socket closed with unread input resets the peer (unix(7)), which
    /// would lose the message. If the buffer is full or the client gone, the close says enough.
    /// </summary>
    public static void TellAndClose(Socket client, ReadOnlySpan<byte> message)
    {
        using (client)
        {
            try
            {
                client.Blocking = false;
                Span<byte> discard = stackalloc byte[4096];
                while (client.Available > 0 && client.Receive(discard) > 0)
                {
                }
                client.Send(message);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
