// A minimal client for vswitchd's control socket, kept here so the pcap lane does not depend on
// the daemon's own client: a Unix stream socket, each message a 4-byte big-endian length
// followed by a UTF-8 JSON object. One connection per request.
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace VSwitch.Tests.Integration.Pcap;

public static class ControlClient
{
    private const int MaxReply = 16 << 20;

    public static async Task<JsonObject> RequestAsync(string socketPath, JsonObject request, TimeSpan timeout, CancellationToken cancellation)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        cts.CancelAfter(timeout);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cts.Token);

        byte[] body = Encoding.UTF8.GetBytes(request.ToJsonString());
        byte[] message = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(message, body.Length);
        body.CopyTo(message, 4);
        await socket.SendAsync(message, SocketFlags.None, cts.Token);

        byte[] header = new byte[4];
        await ReceiveExactlyAsync(socket, header, cts.Token);
        int length = BinaryPrimitives.ReadInt32BigEndian(header);
        if (length < 0 || length > MaxReply)
            throw new InvalidDataException($"control socket: reply length {length} out of range (0..{MaxReply})");
        byte[] reply = new byte[length];
        await ReceiveExactlyAsync(socket, reply, cts.Token);
        string text = Encoding.UTF8.GetString(reply);
        return JsonNode.Parse(text) as JsonObject
            ?? throw new InvalidDataException($"control socket: reply is not a JSON object: {text}");
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellation)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[filled..], SocketFlags.None, cancellation);
            if (n == 0)
                throw new EndOfStreamException($"control socket closed after {filled} of {buffer.Length} bytes");
            filled += n;
        }
    }
}
