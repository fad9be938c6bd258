// Kestrel's door for the agent's socket (a connection middleware, ListenOptions.Use): before
// Kestrel parses a byte of HTTP, the peer's credentials pass the shared ConnectionGate (root, the
// agent's own user, the --group's members) and the open connections are counted against its
// limit. A refused client gets one HTTP response saying why, then the connection is closed.
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using VSwitch.Common.Sockets;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Http;

internal sealed class PeerGate(ConnectionGate gate, ILogger logger)
{
    /// <summary>
    /// How long a refused client's request is read and dropped after the answer: closing a Unix
    /// socket with unread input resets the peer (unix(7)), which would lose the answer. A client
    /// that reads the answer closes at once; one that does not is not waited for longer.
    /// </summary>
    private static readonly TimeSpan s_drainTime = TimeSpan.FromSeconds(1);

    public ConnectionDelegate Wrap(ConnectionDelegate next) => async connection =>
    {
        string? refusal;
        int pid = 0;
        if (connection.Features.Get<IConnectionSocketFeature>()?.Socket is not { } socket)
        {
            refusal = "permission denied: the connection has no socket to read the peer's credentials from";
        }
        else
        {
            refusal = gate.TryAdmit(socket);
            if (refusal is not null)
                pid = TryPid(socket);
        }
        if (refusal is not null)
        {
            AgentLog.Refused(logger, pid, refusal);
            bool busy = refusal == gate.Limits.TooManyConnections;
            await RefuseAsync(connection, busy ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.Forbidden, refusal);
            return;
        }
        try
        {
            await next(connection);
        }
        finally
        {
            gate.Release();
        }
    };

    private static int TryPid(System.Net.Sockets.Socket socket)
    {
        try
        {
            return PeerCredentials.Of(socket).Pid;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return 0;
        }
    }

    /// <summary>Answers with <paramref name="status"/> and an ApiError, then reads and drops what the client sent until it closes.</summary>
    private static async Task RefuseAsync(ConnectionContext connection, HttpStatusCode status, string reason)
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(new ApiError(reason), AgentJson.Options);
        string head = $"HTTP/1.1 {(int)status} {ReasonPhrases.GetReasonPhrase((int)status)}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        using var drain = new CancellationTokenSource(s_drainTime);
        try
        {
            await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(head), drain.Token);
            await connection.Transport.Output.WriteAsync(body, drain.Token);
            while (true)
            {
                var read = await connection.Transport.Input.ReadAsync(drain.Token);
                connection.Transport.Input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted || read.IsCanceled)
                    break;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ConnectionResetException)
        {
        }
    }
}
