using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using VSwitch.Common.Sockets;
using Xunit;

namespace VSwitch.Tests.Unit.ControlSocket;

public sealed class SocketPathTests
{
    [Fact]
    public async Task Stale_socket_file_of_a_dead_vswitchd_is_replaced()
    {
        await using var test = TestServer.Prepare();
        test.LeaveStaleSocket();
        Assert.True(SocketPath.Identity(test.SocketPath)?.IsSocket);

        test.StartServer();
        await using ControlClient client = await test.ConnectAsync();

        Assert.True((bool)(await client.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout())["ok"]!);
    }

    [Fact]
    public async Task Live_server_on_the_path_is_detected_and_left_alone()
    {
        await using var test = TestServer.Start();

        var error = Assert.Throws<IOException>(() => ControlServer.Start(test.SocketPath, new FakeHandler(), new ControlServerOptions("vswitchd")));

        Assert.Equal($"another vswitchd is listening on {test.SocketPath}", error.Message);
        await using ControlClient client = await test.ConnectAsync();
        Assert.True((bool)(await client.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout())["ok"]!);
    }

    [Fact]
    public async Task File_that_is_not_a_socket_is_not_replaced()
    {
        await using var test = TestServer.Prepare();
        await File.WriteAllTextAsync(test.SocketPath, "not a socket", TimeoutExtensions.Ct).DefaultTimeout();

        var error = Assert.Throws<IOException>(() => test.StartServer());

        Assert.Equal($"{test.SocketPath} exists and is not a socket; not replacing it", error.Message);
        Assert.Equal("not a socket", await File.ReadAllTextAsync(test.SocketPath, TimeoutExtensions.Ct).DefaultTimeout());
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public async Task Missing_directory_is_created_and_the_socket_is_0660()
    {
        await using var test = TestServer.Prepare();
        string nested = Path.Combine(Path.GetDirectoryName(test.SocketPath)!, "run", "vswitchd", "vswitchd.sock");

        await using ControlServer server = ControlServer.Start(nested, new FakeHandler(), new ControlServerOptions("vswitchd"));

        Assert.Equal(nested, server.SocketPath);
        Assert.Equal(
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite,
            File.GetUnixFileMode(nested));
        Assert.True(SocketPath.Identity(nested)?.IsSocket);
    }

    [Fact]
    public async Task Dispose_leaves_a_socket_that_replaced_ours_alone()
    {
        await using var test = TestServer.Start();
        File.Delete(test.SocketPath);
        using var successor = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        successor.Bind(new UnixDomainSocketEndPoint(test.SocketPath));

        await test.Server!.DisposeAsync().DefaultTimeout();

        Assert.True(File.Exists(test.SocketPath));
    }

    [Fact]
    public void Stat_tells_sockets_from_other_files_and_missing_paths()
    {
        Assert.Null(SocketPath.Identity("/nonexistent/vswitchd.sock"));
        FileId root = Assert.NotNull(SocketPath.Identity("/"));
        Assert.False(root.IsSocket);
        Assert.NotEqual(0UL, root.Inode);
        // The inode and device are those stat(1), an independent reader of the same call, prints.
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i %Hd %Ld", "/"]) { RedirectStandardOutput = true })!;
        string[] printed = stat.StandardOutput.ReadToEnd().Split(' ', StringSplitOptions.TrimEntries);
        stat.WaitForExit();
        Assert.Equal(ulong.Parse(printed[0]), root.Inode);
        Assert.Equal(ulong.Parse(printed[1]) << 32 | ulong.Parse(printed[2]), root.Device);
    }

    [Fact]
    public void Statx_buffer_matches_linux_struct_statx()
    {
        // linux/stat.h: the same layout on every architecture.
        Assert.Equal(256, Unsafe.SizeOf<StatxBuffer>());
        Assert.Equal(0, (int)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.Mask)));
        Assert.Equal(28, (int)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.Mode)));
        Assert.Equal(32, (int)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.Inode)));
        Assert.Equal(136, (int)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.DeviceMajor)));
        Assert.Equal(140, (int)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.DeviceMinor)));
    }
}
