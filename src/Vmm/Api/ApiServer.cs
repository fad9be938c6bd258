// Serves ApiProtocol on a Unix socket for one VM: a thread accepts, each admitted connection gets
// its own thread, requests on a connection are answered in order. ConnectionGate (shared with
// vswitchd's control socket) decides who is admitted: root or the VMM's own user (the socket is
// 0600), at most ConnectionLimits.MaxConnections at once, so at most that many threads; a
// connection idle or stalled mid-request past its timeout is closed. The socket file is created
// with the VM and removed when the VM stops, unless another VMM's socket has replaced it.
using System.Net.Sockets;
using VSwitch.Common.Sockets;
using VSwitch.Vmm.Machine;

namespace VSwitch.Vmm.Api;

public sealed class ApiServer : IDisposable
{
    /// <summary>rw for the owner only: the VMM's user (and root) drive the VM, nobody else.</summary>
    public const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const int ListenBacklog = 8;

    private readonly IApiMachine _machine;
    private readonly string _path;
    private readonly FileId _socketFile;
    private readonly Socket _listener;
    private readonly ConnectionGate _gate;
    private readonly Thread _acceptThread;
    private volatile bool _disposed;

    private ApiServer(IApiMachine machine, string path, FileId socketFile, Socket listener, ConnectionLimits limits)
    {
        _machine = machine;
        _path = path;
        _socketFile = socketFile;
        _listener = listener;
        _gate = new ConnectionGate(limits);
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "api" };
    }

    /// <summary>Connections being served now.</summary>
    public int Connections => _gate.Open;

    /// <summary>
    /// Refuses a path another process is listening on, or that is not a socket; a socket a
    /// killed VMM left behind is fine (Start replaces it).
    /// </summary>
    /// <exception cref="IOException">The path is in use or is not a socket.</exception>
    public static void ThrowIfInUse(string path)
    {
        if (SocketPath.Probe(path) == SocketPathState.Listening)
            throw new IOException($"another process is listening on {path}; not replacing it (is another VMM using this --api-socket?)");
    }

    /// <summary>Binds <paramref name="path"/> (replacing only a stale socket) with mode 0600 and starts serving.</summary>
    /// <exception cref="IOException">The path is in use, is not a socket, or binding fails.</exception>
    public static ApiServer Start(IApiMachine machine, string path, ConnectionLimits? limits = null)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("the API socket needs Linux (SO_PEERCRED, Unix file modes)");
        ThrowIfInUse(path);
        Socket listener = SocketPath.Listen(path, SocketMode, ListenBacklog);
        var server = new ApiServer(machine, path, SocketPath.Identity(path)!.Value, listener, limits ?? ConnectionLimits.Default);
        server._acceptThread.Start();
        return server;
    }

    private void AcceptLoop()
    {
        while (!_disposed)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            if (_gate.TryAdmit(client) is { } refusal)
            {
                // The accept thread must not wait on a refused client.
                ConnectionGate.TellAndClose(client, ApiProtocol.Error(refusal, _machine.State));
                continue;
            }
            new Thread(() => Serve(client)) { IsBackground = true, Name = "api-client" }.Start();
        }
    }

    private void Serve(Socket client)
    {
        var clock = new MessageClock(_gate.Limits);
        try
        {
            using (client)
            {
                client.SendTimeout = Milliseconds(_gate.Limits.FrameTimeout);
                var buffer = new byte[ApiProtocol.MaxRequestBytes];
                int filled = 0;
                try
                {
                    while (true)
                    {
                        int newline = Array.IndexOf(buffer, (byte)'\n', 0, filled);
                        if (newline < 0)
                        {
                            if (filled == buffer.Length)
                            {
                                Send(client, ApiProtocol.Error($"request: longer than {ApiProtocol.MaxRequestBytes} bytes", _machine.State));
                                return; // cannot find the next request's start: drop the connection
                            }
                            TimeSpan wait = clock.NextWait(midMessage: filled > 0);
                            if (wait <= TimeSpan.Zero)
                                throw new SocketException((int)SocketError.TimedOut);
                            client.ReceiveTimeout = Milliseconds(wait);
                            int read = client.Receive(buffer.AsSpan(filled));
                            if (read == 0)
                                return;
                            filled += read;
                            continue;
                        }
                        Send(client, Handle(buffer.AsSpan(0, newline)));
                        filled -= newline + 1;
                        Array.Copy(buffer, newline + 1, buffer, 0, filled);
                        clock.NextWait(midMessage: false);
                    }
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
                {
                    // Idle too long, stalled mid-request, or not reading its replies: say so if it still listens.
                    ConnectionGate.TellAndClose(client, ApiProtocol.Error(clock.Expired(filled > 0, filled), _machine.State));
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // The client went away; nothing to answer.
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A socket timeout in ms: at least 1, since 0 would mean none.</summary>
    private static int Milliseconds(TimeSpan wait) => (int)Math.Clamp(Math.Ceiling(wait.TotalMilliseconds), 1, int.MaxValue);

    private byte[] Handle(ReadOnlySpan<byte> line)
    {
        if (!ApiProtocol.TryParseRequest(line, out ApiOperation operation, out string error))
            return ApiProtocol.Error(error, _machine.State);
        switch (operation)
        {
            case ApiOperation.Pause:
                return _machine.Pause() ? ApiProtocol.Ok(_machine.State)
                    : ApiProtocol.Error($"op: cannot pause a VM that is {ApiProtocol.StateName(_machine.State)}", _machine.State);
            case ApiOperation.Resume:
                return _machine.Resume() ? ApiProtocol.Ok(_machine.State)
                    : ApiProtocol.Error($"op: cannot resume a VM that is {ApiProtocol.StateName(_machine.State)}", _machine.State);
            case ApiOperation.Shutdown:
                _machine.RequestStop(new VmOutcome(StopReason.Shutdown));
                return ApiProtocol.Ok(MachineState.Stopped);
            default:
                return ApiProtocol.Ok(_machine.State);
        }
    }

    private static void Send(Socket client, byte[] response)
    {
        int sent = 0;
        while (sent < response.Length)
            sent += client.Send(response.AsSpan(sent));
    }

    public void Dispose()
    {
        _disposed = true;
        _listener.Dispose();
        try
        {
            SocketPath.DeleteIfSame(_path, _socketFile);
        }
        catch (IOException)
        {
            // Already gone, or the folder went away: nothing left to clean.
        }
    }
}
