// vmm's API socket served in-process on a stand-in machine (no KVM needed): its file mode, the
// socket of another VMM at the same path, the cap on connections (one thread each) and the
// timeouts, which ConnectionGate shares with vswitchd's control socket.
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using VSwitch.Common.Sockets;
using VSwitch.Vmm.Api;
using VSwitch.Vmm.Cli;
using VSwitch.Vmm.Machine;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Api;

[SupportedOSPlatform("linux")]
public sealed class ApiServerTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vsw-api-");
    private readonly string _path;

    public ApiServerTests() => _path = Path.Combine(_dir.FullName, "vm.sock");

    public void Dispose() => _dir.Delete(recursive: true);

    private sealed class StandIn : IApiMachine
    {
        public MachineState State { get; private set; } = MachineState.Running;
        public bool Pause() => (State = MachineState.Paused) == MachineState.Paused;
        public bool Resume() => (State = MachineState.Running) == MachineState.Running;
        public void RequestStop(VmOutcome outcome) => State = MachineState.Stopped;
    }

    private static Socket Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = (int)Limit.TotalMilliseconds };
        socket.Connect(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    /// <summary>The next response line, or null when the server closed the connection.</summary>
    private static string? ReadLine(Socket socket)
    {
        var line = new List<byte>();
        var one = new byte[1];
        while (socket.Receive(one) == 1)
        {
            if (one[0] == '\n')
                return Encoding.UTF8.GetString([.. line]);
            line.Add(one[0]);
        }
        return line.Count == 0 ? null : throw new Xunit.Sdk.XunitException($"cut line: {Encoding.UTF8.GetString([.. line])}");
    }

    private static string Ask(Socket socket, string request)
    {
        socket.Send(Encoding.UTF8.GetBytes(request + "\n"));
        return ReadLine(socket) ?? throw new Xunit.Sdk.XunitException("closed without a response");
    }

    private static ConnectionLimits Limits(int maxConnections = 64, double frameSeconds = 10) =>
        new(null, maxConnections, TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(frameSeconds));

    [Fact]
    public void The_socket_is_0600_whatever_the_umask()
    {
        using ApiServer server = ApiServer.Start(new StandIn(), _path);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_path));
        using Socket client = Connect(_path);
        Assert.Equal("""{"ok":true,"state":"running"}""", Ask(client, """{"op":"state"}"""));
    }

    [Fact]
    public void A_live_socket_of_another_vmm_is_left_alone()
    {
        using ApiServer first = ApiServer.Start(new StandIn(), _path);

        var refused = Assert.Throws<IOException>(() => ApiServer.Start(new StandIn(), _path));

        Assert.Equal($"another process is listening on {_path}; not replacing it (is another VMM using this --api-socket?)", refused.Message);
        using Socket client = Connect(_path);
        Assert.Equal("""{"ok":true,"state":"running"}""", Ask(client, """{"op":"state"}"""));
    }

    [Fact]
    public void Vmm_run_on_a_live_socket_exits_2_before_touching_kvm()
    {
        using ApiServer first = ApiServer.Start(new StandIn(), _path);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        int exit = VmmCommandLine.Invoke(["run", "--kernel", "/nonexistent/bzImage", "--api-socket", _path], stdout, stderr);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal($"vmm: --api-socket: another process is listening on {_path}; not replacing it (is another VMM using this --api-socket?)",
            stderr.ToString().Trim());
        using Socket client = Connect(_path);
        Assert.Equal("""{"ok":true,"state":"running"}""", Ask(client, """{"op":"state"}"""));
    }

    [Fact]
    public void A_stale_socket_is_replaced_and_a_file_that_is_not_a_socket_is_not()
    {
        // A socket nobody listens on, as a killed VMM leaves (bound elsewhere: Dispose unlinks what it bound).
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixDomainSocketEndPoint(_path + ".dead"));
            File.Move(_path + ".dead", _path);
        }
        using (ApiServer server = ApiServer.Start(new StandIn(), _path))
        {
            using Socket client = Connect(_path);
            Assert.Equal("""{"ok":true,"state":"running"}""", Ask(client, """{"op":"state"}"""));
        }
        Assert.False(File.Exists(_path));

        File.WriteAllText(_path, "not a socket");
        var refused = Assert.Throws<IOException>(() => ApiServer.Start(new StandIn(), _path));
        Assert.Equal($"{_path} exists and is not a socket; not replacing it", refused.Message);
        Assert.Equal("not a socket", File.ReadAllText(_path));
    }

    [Fact]
    public void Stopping_leaves_a_socket_that_replaced_ours()
    {
        ApiServer server = ApiServer.Start(new StandIn(), _path);
        File.Delete(_path);
        using ApiServer other = ApiServer.Start(new StandIn(), _path);

        server.Dispose();

        using Socket client = Connect(_path);
        Assert.Equal("""{"ok":true,"state":"running"}""", Ask(client, """{"op":"state"}"""));
    }

    [Fact]
    public void The_connection_past_the_cap_is_told_and_closed()
    {
        using ApiServer server = ApiServer.Start(new StandIn(), _path, Limits(maxConnections: 2));
        using Socket first = Connect(_path), second = Connect(_path);
        Assert.Equal("""{"ok":true,"state":"running"}""", Ask(first, """{"op":"state"}"""));
        Assert.Equal("""{"ok":true,"state":"running"}""", Ask(second, """{"op":"state"}"""));

        using Socket third = Connect(_path);

        Assert.Equal("""{"ok":false,"error":"too many connections: 2 already open (the limit); try again later","state":"running"}""", ReadLine(third));
        Assert.Null(ReadLine(third));
        Assert.Equal(2, server.Connections);
        Assert.Equal("""{"ok":true,"state":"running"}""", Ask(first, """{"op":"state"}"""));
    }

    [Fact]
    public void A_stalled_half_request_is_closed_after_the_frame_timeout()
    {
        using ApiServer server = ApiServer.Start(new StandIn(), _path, Limits(frameSeconds: 0.3));
        using Socket client = Connect(_path);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        client.Send("{\"op\":"u8.ToArray());

        Assert.Equal("""{"ok":false,"error":"timed out: 6 bytes of a message and no more for 0.3 s (frame timeout)","state":"running"}""", ReadLine(client));
        Assert.Null(ReadLine(client));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.3), $"closed after {clock.Elapsed}");
    }
}
