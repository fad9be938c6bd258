// One connection to an NBD server, past its handshake: requests go one at a time, each waiting
// for its reply (NbdVolume serialises them). Anything the server sends that the protocol does
// not allow (a wrong magic, a reply to another request, an option reply that is too long) ends
// the connection as NbdConnectionLost, like a dropped socket: the volume reconnects and retries.
// An error the server reports for a request (its errno) is that request's failure alone.
using System.Buffers.Binary;
using System.Net.Sockets;

namespace VSwitch.Vmm.Volumes.Nbd;

/// <summary>The connection broke, timed out, or the server broke the protocol: whatever was in flight may be retried on a new one.</summary>
public sealed class NbdConnectionLostException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>The server answered a request with an error (its errno): retrying on the same server would get the same.</summary>
public sealed class NbdRequestFailedException(string message) : IOException(message);

internal sealed class NbdConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _header = new byte[NbdProtocol.RequestHeaderLength];
    private readonly byte[] _reply = new byte[NbdProtocol.SimpleReplyLength];
    private ulong _cookie;

    public long SizeBytes { get; }
    public ushort TransmissionFlags { get; }
    public bool ReadOnly => (TransmissionFlags & NbdProtocol.TransmitReadOnly) != 0;
    public bool CanFlush => (TransmissionFlags & NbdProtocol.TransmitSendFlush) != 0;
    public bool CanTrim => (TransmissionFlags & NbdProtocol.TransmitSendTrim) != 0;
    public bool CanWriteZeroes => (TransmissionFlags & NbdProtocol.TransmitSendWriteZeroes) != 0;

    private NbdConnection(Socket socket, long size, ushort flags)
    {
        _socket = socket;
        SizeBytes = size;
        TransmissionFlags = flags;
    }

    /// <summary>
    /// Connects and negotiates <paramref name="address"/>'s export. A server that refuses the
    /// export says so in an <see cref="NbdRequestFailedException"/> (connecting again will not
    /// help); a server that cannot be reached, or breaks off, in an <see cref="NbdConnectionLostException"/>.
    /// </summary>
    public static NbdConnection Open(NbdAddress address, TimeSpan ioTimeout)
    {
        Socket socket = address.SocketPath is { } path
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.SendTimeout = socket.ReceiveTimeout = (int)ioTimeout.TotalMilliseconds;
            try
            {
                if (address.SocketPath is { } unixPath)
                    socket.Connect(new UnixDomainSocketEndPoint(unixPath));
                else
                    socket.Connect(address.Host!, address.Port);
                (long size, ushort flags) = Negotiate(socket, address);
                return new NbdConnection(socket, size, flags);
            }
            catch (SocketException e)
            {
                throw new NbdConnectionLostException($"cannot connect to {address}: {e.Message}", e);
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static (long Size, ushort Flags) Negotiate(Socket socket, NbdAddress address)
    {
        Span<byte> greeting = stackalloc byte[18];
        ReceiveExactly(socket, greeting);
        if (BinaryPrimitives.ReadUInt64BigEndian(greeting) != NbdProtocol.InitMagic ||
            BinaryPrimitives.ReadUInt64BigEndian(greeting[8..]) != NbdProtocol.OptionMagic)
            throw new NbdRequestFailedException($"{address} is not a newstyle NBD server (its greeting has the wrong magic)");
        ushort handshake = BinaryPrimitives.ReadUInt16BigEndian(greeting[16..]);
        if ((handshake & NbdProtocol.FlagFixedNewstyle) == 0)
            throw new NbdRequestFailedException($"{address} does not speak the fixed newstyle handshake, which NBD_OPT_GO needs");
        Span<byte> clientFlags = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(clientFlags, (uint)(handshake & (NbdProtocol.FlagFixedNewstyle | NbdProtocol.FlagNoZeroes)));
        SendAll(socket, clientFlags);
        SendAll(socket, NbdProtocol.GoOption(address.Export));

        long size = -1;
        ushort flags = 0;
        Span<byte> header = stackalloc byte[NbdProtocol.OptionReplyHeaderLength];
        while (true)
        {
            ReceiveExactly(socket, header);
            uint reply = BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(header[16..]);
            if (BinaryPrimitives.ReadUInt64BigEndian(header) != NbdProtocol.OptionReplyMagic ||
                BinaryPrimitives.ReadUInt32BigEndian(header[8..]) != NbdProtocol.OptGo || length > NbdProtocol.MaxOptionReplyLength)
                throw new NbdConnectionLostException($"{address} sent a malformed reply to NBD_OPT_GO");
            byte[] data = new byte[length];
            ReceiveExactly(socket, data);
            if ((reply & NbdProtocol.ReplyErrorBit) != 0)
            {
                string text = System.Text.Encoding.UTF8.GetString(data);
                throw new NbdRequestFailedException($"{address} refused export '{address.Export}': {NbdProtocol.OptionErrorName(reply)}{(text.Length > 0 ? $": {text}" : "")}");
            }
            if (reply == NbdProtocol.ReplyInfo && length >= 12 && BinaryPrimitives.ReadUInt16BigEndian(data) == NbdProtocol.InfoExport)
            {
                size = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(2)), long.MaxValue);
                flags = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(10));
            }
            else if (reply == NbdProtocol.ReplyAck)
            {
                if (size < 0)
                    throw new NbdConnectionLostException($"{address} ended NBD_OPT_GO without NBD_INFO_EXPORT");
                return (size, flags);
            }
            // Any other information reply (block sizes, names) is not needed: skipped.
        }
    }

    /// <summary>
    /// Sends one request and waits for its reply. <paramref name="payload"/> goes after the header
    /// (NBD_CMD_WRITE); <paramref name="destination"/> receives the data of a successful read.
    /// </summary>
    public void Request(NbdCommand command, ushort flags, long offset, uint length, ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        try
        {
            ulong cookie = ++_cookie;
            NbdProtocol.WriteRequest(_header, command, flags, cookie, (ulong)offset, length);
            SendAll(_socket, _header);
            if (!payload.IsEmpty)
                SendAll(_socket, payload);
            ReceiveExactly(_socket, _reply);
            if (BinaryPrimitives.ReadUInt32BigEndian(_reply) != NbdProtocol.SimpleReplyMagic ||
                BinaryPrimitives.ReadUInt64BigEndian(_reply.AsSpan(8)) != cookie)
                throw new NbdConnectionLostException($"the server's reply to {command} at {offset} is not a simple reply to it");
            uint error = BinaryPrimitives.ReadUInt32BigEndian(_reply.AsSpan(4));
            if (error != 0)
                throw new NbdRequestFailedException($"the server failed {command} of {length} bytes at {offset}: errno {error}");
            if (!destination.IsEmpty)
                ReceiveExactly(_socket, destination);
        }
        catch (SocketException e)
        {
            throw new NbdConnectionLostException($"{command} at {offset}: {e.Message}", e);
        }
    }

    /// <summary>Says goodbye (NBD_CMD_DISC, which has no reply) and closes; never throws.</summary>
    public void Dispose()
    {
        try
        {
            NbdProtocol.WriteRequest(_header, NbdCommand.Disconnect, 0, ++_cookie, 0, 0);
            _socket.Send(_header, SocketFlags.None);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The connection is already gone: nothing to say goodbye on.
        }
        _socket.Dispose();
    }

    private static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
            data = data[socket.Send(data, SocketFlags.None)..];
    }

    private static void ReceiveExactly(Socket socket, Span<byte> data)
    {
        try
        {
            while (!data.IsEmpty)
            {
                int n = socket.Receive(data, SocketFlags.None);
                if (n == 0)
                    throw new NbdConnectionLostException("the server closed the connection");
                data = data[n..];
            }
        }
        catch (SocketException e)
        {
            throw new NbdConnectionLostException(e.SocketErrorCode == SocketError.TimedOut ? "the server did not answer in time" : e.Message, e);
        }
    }
}
