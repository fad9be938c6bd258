// A connection to a daemon's control socket (vswitchd's or a VMM's), for vswitchd ctl, the host
// agent and tests.
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VSwitch.Common.Control;

/// <summary>
/// One connection; requests are sent one at a time (concurrent callers queue). A request that is
/// cancelled or fails on the wire leaves the connection unusable, since its reply could still
/// arrive and be taken for the next request's: connect again.
/// </summary>
public sealed class ControlClient : IAsyncDisposable
{
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly FrameReader _frames;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _outOfStep;
    private int _disposed;

    private ControlClient(string socketPath, Socket socket)
    {
        SocketPath = socketPath;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
        _frames = new FrameReader(_input);
    }

    public string SocketPath { get; }

    /// <exception cref="SocketException">Nobody listens on <paramref name="socketPath"/> (see ControlCli for turning the error codes into words).</exception>
    public static async Task<ControlClient> ConnectAsync(string socketPath, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new ControlClient(socketPath, socket);
    }

    /// <summary>
    /// Runs <paramref name="exchange"/> (a connect, requests) under a deadline of its own: when
    /// <paramref name="within"/> runs out first it is a TimeoutException ("no answer within N s"),
    /// while <paramref name="ct"/> cancelling stays a cancellation.
    /// </summary>
    public static async Task<T> WithinAsync<T>(TimeSpan within, Func<CancellationToken, Task<T>> exchange, CancellationToken ct = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(within);
        try
        {
            return await exchange(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer within {within.TotalSeconds} s");
        }
    }

    /// <summary>Sends <paramref name="request"/> and returns the reply if it has "ok": true.</summary>
    /// <exception cref="ControlRequestFailedException">The reply has "ok": false.</exception>
    /// <exception cref="ControlProtocolException">The reply is not a framed JSON object with a boolean "ok", or the daemon closed the connection.</exception>
    public async Task<JsonObject> RequestAsync(JsonObject request, CancellationToken ct = default)
    {
        JsonObject reply = await RequestRawAsync(request, ct).ConfigureAwait(false);
        if (IsOk(reply))
            return reply;
        throw new ControlRequestFailedException(ErrorText(reply), reply);
    }

    /// <summary>Sends <paramref name="request"/> and returns the reply whatever its "ok".</summary>
    /// <exception cref="ControlProtocolException">The reply is not a framed JSON object with a boolean "ok", or the daemon closed the connection.</exception>
    /// <exception cref="ArgumentException">The request serializes to more than <see cref="ControlFraming.MaxMessageLength"/> bytes.</exception>
    public async Task<JsonObject> RequestRawAsync(JsonObject request, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            if (_outOfStep)
                throw new InvalidOperationException($"an earlier request on this connection to {SocketPath} was interrupted, so replies would be out of step; connect again");

            ControlFraming.WriteFrame(_output, request);
            // Cleared only once the reply is in: from here on, any failure leaves the stream mid-exchange.
            _outOfStep = true;
            await _output.FlushAsync(ct).ConfigureAwait(false);
            Frame frame = await _frames.ReadAsync(ct).ConfigureAwait(false);
            JsonObject reply = frame switch
            {
                { Kind: FrameKind.Message, Message: JsonObject message } when message["ok"] is JsonValue ok && ok.GetValueKind() is JsonValueKind.True or JsonValueKind.False => message,
                { Kind: FrameKind.Message } => throw new ControlProtocolException($"reply from {SocketPath} is not a JSON object with a boolean \"ok\""),
                { Kind: FrameKind.End } => throw new ControlProtocolException($"the daemon on {SocketPath} closed the connection without replying"),
                _ => throw new ControlProtocolException($"bad reply from {SocketPath}: {frame.Error}"),
            };
            _outOfStep = false;
            return reply;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Closes the connection; a request in flight fails.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await _stream.DisposeAsync().ConfigureAwait(false);
        // The pipes hold only pooled buffers, so they are left to the GC rather than completed
        // under a request in flight, which would race it.
        if (!_gate.Wait(0))
            return;
        try
        {
            await _input.CompleteAsync().ConfigureAwait(false);
            await _output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // Bytes of a request whose flush failed; the stream is closed, they go nowhere.
        }
        finally
        {
            _gate.Release();
        }
    }

    internal static bool IsOk(JsonObject reply) => reply["ok"] is JsonValue ok && ok.GetValueKind() == JsonValueKind.True;

    internal static string ErrorText(JsonObject reply) =>
        reply["error"] is JsonValue text && text.GetValueKind() == JsonValueKind.String
            ? text.GetValue<string>()
            : "the daemon refused the request without saying why";
}
