// Serves ApiProtocol on a Unix socket for one VM: a thread accepts, each connection gets its own
// thread (an operator tool or the control plane; a handful at most), requests on a connection
// are answered in order. The socket file is created with the VM and removed when the VM stops.
using System.Net.Sockets;
using VSwitch.Vmm.Machine;

namespace VSwitch.Vmm.Api;

public sealed class ApiServer : IDisposable
{
    private readonly VirtualMachine _machine;
    private readonly string _path;
    private readonly Socket _listener;
    private readonly Thread _acceptThread;
    private volatile bool _disposed;

    private ApiServer(VirtualMachine machine, string path, Socket listener)
    {
        _machine = machine;
        _path = path;
        _listener = listener;
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "api" };
    }

    /// <summary>Binds <paramref name="path"/> (a stale socket file there is replaced) and starts serving.</summary>
    public static ApiServer Start(VirtualMachine machine, string path)
    {
        // A socket file left by a VMM that was killed would make bind fail with EADDRINUSE.
        if (File.Exists(path) && (File.GetAttributes(path) & FileAttributes.Directory) == 0)
            File.Delete(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(8);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        var server = new ApiServer(machine, path, listener);
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
            new Thread(() => Serve(client)) { IsBackground = true, Name = "api-client" }.Start();
        }
    }

    private void Serve(Socket client)
    {
        using (client)
        {
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
                        int read = client.Receive(buffer.AsSpan(filled));
                        if (read == 0)
                            return;
                        filled += read;
                        continue;
                    }
                    Send(client, Handle(buffer.AsSpan(0, newline)));
                    filled -= newline + 1;
                    Array.Copy(buffer, newline + 1, buffer, 0, filled);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The client went away; nothing to answer.
            }
        }
    }

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
            File.Delete(_path);
        }
        catch (IOException)
        {
            // Already gone, or the folder went away: nothing left to clean.
        }
    }
}
