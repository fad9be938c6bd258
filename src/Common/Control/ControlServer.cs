// A daemon's control socket (docs/control-socket.md, "Framing" and "Envelope"): a Unix stream socket on
// which operators, the host agent and tests send framed JSON requests (ControlFraming) while the
// daemon runs. vswitchd serves its control socket through it and vmm its API socket. Each
// connection is served on its own task and answers its requests in order; nothing a client sends
// can stop the server or another client's connection. Who may connect, how many at once and for
// how long is ConnectionGate's.
using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Common.Sockets;

namespace VSwitch.Common.Control;

public sealed class ControlServer : IAsyncDisposable
{
    /// <summary>0755: access is controlled by the socket's own mode, the directory only has to be traversable.</summary>
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const int ListenBacklog = 64;

    /// <summary>How long an accept failure (EMFILE, ENFILE) pauses the accept loop; those last
    /// until some descriptor is closed, and retrying at once would spin a core. The loop never
    /// gives up: a control socket that stopped accepting would leave its daemon unmanageable.</summary>
    private static readonly TimeSpan s_acceptRetryDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>How long disposal waits for requests in flight (a "shutdown" reply among them)
    /// before it closes their connections, and again before it gives up on their handlers.</summary>
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(2);

    private readonly Socket _listener;
    private readonly FileId _socketFile;
    private readonly IControlHandler _handler;
    private readonly string _daemon;
    private readonly Action<string>? _log;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly HashSet<Connection> _connections = [];
    private readonly ConnectionGate _gate;
    private Task _acceptLoop = Task.CompletedTask;
    private int _disposed;

    private ControlServer(string socketPath, Socket listener, FileId socketFile, IControlHandler handler, ControlServerOptions options)
    {
        _gate = new ConnectionGate(options.Limits);
        SocketPath = socketPath;
        _listener = listener;
        _socketFile = socketFile;
        _handler = handler;
        _daemon = options.Daemon;
        _log = options.Log;
    }

    /// <summary>Connections being served now.</summary>
    public int Connections => _gate.Open;

    /// <summary>The absolute path of the socket.</summary>
    public string SocketPath { get; }

    /// <summary>
    /// Listens on <paramref name="socketPath"/> (creating its directory, replacing a stale socket
    /// left by a dead daemon) and starts accepting clients.
    /// </summary>
    /// <exception cref="IOException">Another daemon is listening on the path, the path is not a
    /// socket, or binding fails.</exception>
    public static ControlServer Start(string socketPath, IControlHandler handler, ControlServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentNullException.ThrowIfNull(handler);
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("the control socket needs Linux (statx, Unix file modes)");
        string path = Path.GetFullPath(socketPath);
        string? directory = Path.GetDirectoryName(path);
        if (directory is not null)
            Directory.CreateDirectory(directory, DirectoryMode);
        if (Common.Sockets.SocketPath.Probe(path) == SocketPathState.Listening)
            throw new IOException($"another {options.Daemon} is listening on {path}");

        Socket listener = Common.Sockets.SocketPath.Listen(path, options.SocketMode, ListenBacklog);
        // Taken right after the rename: ours, unless another server replaced it in between, and
        // then DisposeAsync leaves that one alone anyway.
        FileId identity = Common.Sockets.SocketPath.Identity(path) ?? default;
        var server = new ControlServer(path, listener, identity, handler, options);
        server._acceptLoop = Task.Run(server.AcceptLoopAsync);
        return server;
    }

    /// <summary>
    /// Removes the socket file (unless another daemon has replaced it since), stops accepting,
    /// lets requests in flight finish (up to 2 s), then closes every connection. Handlers see
    /// their token cancelled.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try
        {
            Common.Sockets.SocketPath.DeleteIfSame(SocketPath, _socketFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _log?.Invoke($"control: cannot remove {SocketPath}: {ex.Message}");
        }
        _shutdown.Cancel();
        _listener.Dispose();
        await _acceptLoop.ConfigureAwait(false);

        Connection[] open;
        lock (_connections)
            open = [.. _connections];
        Task drained = Task.WhenAll(open.Select(connection => connection.Served));
        if (!await CompletesWithin(drained, s_drainTimeout).ConfigureAwait(false))
        {
            foreach (Connection connection in open)
                connection.Socket.Dispose();
            if (!await CompletesWithin(drained, s_drainTimeout).ConfigureAwait(false))
                _log?.Invoke("control: handlers still running after shutdown; abandoning them");
        }
        // _shutdown is left undisposed: abandoned handlers may still hold its token, and a
        // source without a timer has nothing to free.
    }

    private static async Task<bool> CompletesWithin(Task task, TimeSpan timeout)
    {
        try
        {
            await task.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private async Task AcceptLoopAsync()
    {
        CancellationToken ct = _shutdown.Token;
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _log?.Invoke($"control: accept on {SocketPath} failed: {ex.Message}");
                try
                {
                    await Task.Delay(s_acceptRetryDelay, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }

            if (_gate.TryAdmit(client) is { } refusal)
            {
                _log?.Invoke($"control: refusing a client: {refusal}");
                Refuse(client, refusal);
                continue;
            }
            var connection = new Connection(client);
            lock (_connections)
                _connections.Add(connection);
            connection.Served = Task.Run(() => ServeAsync(connection));
        }
    }

    /// <summary>Tells a refused client why and closes it; the accept loop must not wait on it.</summary>
    private static void Refuse(Socket client, string refusal)
    {
        var frame = new ArrayBufferWriter<byte>();
        ControlFraming.WriteFrame(frame, ControlEnvelope.Failure(null, refusal).WrittenSpan);
        ConnectionGate.TellAndClose(client, frame.WrittenSpan);
    }

    private async Task ServeAsync(Connection connection)
    {
        CancellationToken ct = _shutdown.Token;
        var stream = new NetworkStream(connection.Socket, ownsSocket: true);
        PipeReader input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        PipeWriter output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        var frames = new FrameReader(input, new MessageClock(_gate.Limits));
        try
        {
            while (true)
            {
                Frame frame = await frames.ReadAsync(ct).ConfigureAwait(false);
                if (frame.Kind == FrameKind.End)
                    break;
                if (frame.Kind == FrameKind.TimedOut)
                {
                    _log?.Invoke($"control: dropping a client: {frame.Error}");
                    await WriteAsync(connection, output, ControlEnvelope.Failure(null, frame.Error!)).ConfigureAwait(false);
                    break;
                }
                if (frame.Kind == FrameKind.Truncated)
                {
                    _log?.Invoke($"control: dropping a client: {frame.Error}");
                    break;
                }
                if (frame.Kind == FrameKind.Oversize)
                {
                    // The rest of the stream cannot be split into frames any more: answer, then hang up.
                    _log?.Invoke($"control: dropping a client: {frame.Error}");
                    await WriteAsync(connection, output, ControlEnvelope.Failure(null, frame.Error!)).ConfigureAwait(false);
                    break;
                }
                ArrayBufferWriter<byte> reply = await ReplyAsync(frame, ct).ConfigureAwait(false);
                if (!await WriteAsync(connection, output, reply).ConfigureAwait(false))
                    break;
            }
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            // Disposal: cancelled reads, or writes failing because disposal closed the socket.
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            // The client went away mid-write or mid-read; nothing to answer.
        }
        catch (Exception ex)
        {
            _log?.Invoke($"control: connection failed: {ex}");
        }
        finally
        {
            await input.CompleteAsync().ConfigureAwait(false);
            try
            {
                await output.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                // Completing flushes; the client may already be gone.
            }
            await stream.DisposeAsync().ConfigureAwait(false);
            lock (_connections)
                _connections.Remove(connection);
            _gate.Release();
        }
    }

    /// <summary>
    /// False when the client has stopped reading for good, or has not taken the reply within the
    /// frame timeout: its socket is then closed, so that nothing (the pipe's completion either)
    /// waits on it again.
    /// </summary>
    private async ValueTask<bool> WriteAsync(Connection connection, PipeWriter output, ArrayBufferWriter<byte> reply)
    {
        ControlFraming.WriteFrame(output, reply.WrittenSpan);
        // Not cancelled by disposal, so the reply to a request in flight (a "shutdown" among
        // them) still goes out; disposal closes the socket if the client does not read it.
        using var timeout = new CancellationTokenSource(_gate.Limits.FrameTimeout);
        try
        {
            FlushResult flushed = await output.FlushAsync(timeout.Token).ConfigureAwait(false);
            return !flushed.IsCompleted;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            _log?.Invoke($"control: dropping a client: it took no reply for {_gate.Limits.FrameTimeout.TotalSeconds} s (frame timeout)");
            connection.Socket.Dispose();
            return false;
        }
    }

    private async ValueTask<ArrayBufferWriter<byte>> ReplyAsync(Frame frame, CancellationToken ct)
    {
        if (frame.Kind == FrameKind.Invalid)
            return ControlEnvelope.Failure(null, frame.Error!);
        if (frame.Message is not JsonObject request)
        {
            string kind = frame.Message?.GetValueKind() switch
            {
                null => "null",
                JsonValueKind.Array => "an array",
                JsonValueKind.String => "a string",
                JsonValueKind.Number => "a number",
                _ => "a boolean",
            };
            return ControlEnvelope.Failure(null, $"request is {kind}; it must be a JSON object with a string field \"op\"");
        }

        JsonNode? id = request["id"];
        if (request["op"] is not JsonValue opValue || opValue.GetValueKind() != JsonValueKind.String)
            return ControlEnvelope.Failure(id, "request has no string field \"op\"");
        string op = opValue.GetValue<string>();

        try
        {
            JsonObject body = await _handler.HandleAsync(op, request, ct).ConfigureAwait(false);
            ArrayBufferWriter<byte> reply = ControlEnvelope.Success(id, body);
            if (reply.WrittenCount <= ControlFraming.MaxMessageLength)
                return reply;
            _log?.Invoke($"control: reply to {op} is {reply.WrittenCount} bytes, over the message limit");
            return ControlEnvelope.Failure(id, $"reply to {op} is {reply.WrittenCount} bytes, over the {ControlFraming.MaxMessageLength}-byte message limit");
        }
        catch (ControlException ex)
        {
            return ControlEnvelope.Failure(id, ex.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return ControlEnvelope.Failure(id, $"{_daemon} is shutting down");
        }
        catch (Exception ex)
        {
            // The operator gets the message, the log gets the stack.
            _log?.Invoke($"control: {op} failed: {ex}");
            return ControlEnvelope.Failure(id, $"internal error: {ex.Message}");
        }
    }

    private sealed class Connection(Socket socket)
    {
        public Socket Socket { get; } = socket;

        /// <summary>Set by the accept loop right after the connection is registered; disposal reads it only after the accept loop has ended.</summary>
        public Task Served { get; set; } = Task.CompletedTask;
    }
}
