// Shared pieces of the control socket tests: a real server on a Unix socket in a temp
// directory, a fake handler, a byte-level client, and the timeout every await goes through so
// that a bug fails a test instead of hanging the suite.
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using VSwitch.Common.Sockets;
using VSwitch.Common.Control;
using Xunit;

namespace VSwitch.Tests.Unit.ControlSocket;

internal static class TimeoutExtensions
{
    /// <summary>Far above what any of these tests needs on a loaded 2-core machine.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static Task DefaultTimeout(this Task task) => task.WaitAsync(Limit, Ct);

    public static Task<T> DefaultTimeout<T>(this Task<T> task) => task.WaitAsync(Limit, Ct);

    public static Task DefaultTimeout(this ValueTask task) => task.AsTask().DefaultTimeout();

    public static Task<T> DefaultTimeout<T>(this ValueTask<T> task) => task.AsTask().DefaultTimeout();
}

/// <summary>
/// Ops: echo (returns the request under "echo"), delay {ms, tag} (returns {tag} after ms),
/// fail (ControlException, thrown synchronously), crash (InvalidOperationException, thrown
/// after an await), big (a reply over the message limit), block (waits for cancellation).
/// Anything else is refused as unknown, as the daemon's handler does.
/// </summary>
internal sealed class FakeHandler : IControlHandler
{
    public TaskCompletionSource BlockEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ValueTask<JsonObject> HandleAsync(string op, JsonObject request, CancellationToken ct) => op switch
    {
        "echo" => ValueTask.FromResult(new JsonObject { ["echo"] = request.DeepClone() }),
        "delay" => DelayAsync(request, ct),
        "fail" => throw new ControlException("no such port: eth9"),
        "crash" => CrashAsync(),
        "big" => ValueTask.FromResult(new JsonObject { ["blob"] = new string('x', ControlFraming.MaxMessageLength) }),
        "block" => BlockAsync(ct),
        _ => throw new ControlException($"unknown op \"{op}\""),
    };

    private static async ValueTask<JsonObject> DelayAsync(JsonObject request, CancellationToken ct)
    {
        await Task.Delay((int)request["ms"]!, ct);
        return new JsonObject { ["tag"] = request["tag"]!.DeepClone() };
    }

    private static async ValueTask<JsonObject> CrashAsync()
    {
        await Task.Yield();
        throw new InvalidOperationException("handler bug");
    }

    private async ValueTask<JsonObject> BlockAsync(CancellationToken ct)
    {
        BlockEntered.TrySetResult();
        await Task.Delay(Timeout.Infinite, ct);
        throw new UnreachableException();
    }
}

/// <summary>A ControlServer on a fresh socket path, with its log captured.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly DirectoryInfo _directory;

    private TestServer(DirectoryInfo directory, FakeHandler handler)
    {
        _directory = directory;
        Handler = handler;
        SocketPath = Path.Combine(directory.FullName, "vswitchd.sock");
    }

    public string SocketPath { get; }
    public FakeHandler Handler { get; }
    public ConcurrentQueue<string> Log { get; } = new();
    public ControlServer? Server { get; private set; }

    /// <summary>A temp directory and a socket path in it, without a server yet.</summary>
    public static TestServer Prepare() => new(Directory.CreateTempSubdirectory("vsw-ctl-"), new FakeHandler());

    public static TestServer Start(ConnectionLimits? limits = null)
    {
        TestServer test = Prepare();
        test.StartServer(limits);
        return test;
    }

    /// <summary>
    /// Leaves a socket file nobody listens on at <see cref="SocketPath"/>, as a killed vswitchd
    /// does. Bound elsewhere and renamed, because Socket.Dispose unlinks the path it bound.
    /// </summary>
    public void LeaveStaleSocket()
    {
        string staging = SocketPath + ".staging";
        using var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        dead.Bind(new UnixDomainSocketEndPoint(staging));
        File.Move(staging, SocketPath);
    }

    public ControlServer StartServer(ConnectionLimits? limits = null) => Server = ControlServer.Start(SocketPath, Handler, new ControlServerOptions("vswitchd") { Log = Log.Enqueue, Limits = limits ?? ConnectionLimits.Default });

    public string Folder => _directory.FullName;

    public Task<ControlClient> ConnectAsync() => ControlClient.ConnectAsync(SocketPath, TimeoutExtensions.Ct).DefaultTimeout();

    public Task<RawConnection> ConnectRawAsync() => RawConnection.ConnectAsync(SocketPath);

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
            await Server.DisposeAsync().DefaultTimeout();
        _directory.Delete(recursive: true);
    }
}

/// <summary>A client that writes raw bytes, for what ControlClient would never send.</summary>
internal sealed class RawConnection : IAsyncDisposable
{
    private readonly NetworkStream _stream;

    private RawConnection(Socket socket) => _stream = new NetworkStream(socket, ownsSocket: true);

    public static async Task<RawConnection> ConnectAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), TimeoutExtensions.Ct).DefaultTimeout();
        return new RawConnection(socket);
    }

    public static byte[] Frame(string json) => Frame(Encoding.UTF8.GetBytes(json));

    public static byte[] Frame(byte[] payload)
    {
        var frame = new ArrayBufferWriter<byte>();
        ControlFraming.WriteFrame(frame, payload);
        return frame.WrittenSpan.ToArray();
    }

    public Task SendAsync(byte[] bytes) => _stream.WriteAsync(bytes, TimeoutExtensions.Ct).DefaultTimeout();

    public Task SendFrameAsync(string json) => SendAsync(Frame(json));

    /// <summary>The next reply, or null if the server closed the connection instead.</summary>
    public async Task<JsonObject?> ReadReplyAsync()
    {
        byte[] header = new byte[ControlFraming.HeaderLength];
        int read = await _stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, TimeoutExtensions.Ct).DefaultTimeout();
        if (read == 0)
            return null;
        Assert.Equal(header.Length, read);
        byte[] payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
        await _stream.ReadExactlyAsync(payload, TimeoutExtensions.Ct).DefaultTimeout();
        return Assert.IsType<JsonObject>(JsonNode.Parse(payload));
    }

    public async Task<JsonObject> RoundTripAsync(string json)
    {
        await SendFrameAsync(json);
        return await ReadReplyAsync() ?? throw new Xunit.Sdk.XunitException("the server closed the connection");
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();
}
