// The limits on who talks to the control socket and for how long (ConnectionLimits, shared with
// vmm's API socket): peers outside the allowed group, the connection past the cap, and clients
// that stall between or inside messages, each of which could otherwise hold a server buffer of
// up to 1 MiB for ever.
using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using VSwitch.Common.Sockets;
using Xunit;

namespace VSwitch.Tests.Unit.ControlSocket;

[SupportedOSPlatform("linux")]
public sealed class ConnectionLimitsTests
{
    private const uint AllowedGroup = 4242;
    private const uint OwnUid = 990, OwnGid = 991;

    private static ConnectionLimits Limits(int maxConnections = 64, double idleSeconds = 300, double frameSeconds = 10) =>
        new(AllowedGroup, maxConnections, TimeSpan.FromSeconds(idleSeconds), TimeSpan.FromSeconds(frameSeconds));

    [Theory]
    [InlineData(0u, 0u, new uint[0])]                  // root
    [InlineData(OwnUid, 1000u, new uint[0])]           // the daemon's own user
    [InlineData(1000u, AllowedGroup, new uint[0])]     // primary group
    [InlineData(1000u, 1000u, new uint[] { 27, AllowedGroup })] // supplementary group
    public void Root_the_own_user_and_the_allowed_group_may_connect(uint uid, uint gid, uint[] groups) =>
        Assert.Null(Limits().Refusal(new PeerCredentials(1, uid, gid, groups), OwnUid, OwnGid));

    [Fact]
    public void Anyone_else_is_refused_naming_uid_and_group()
    {
        Assert.Equal("permission denied: uid 1000 is not root and not in group 4242",
            Limits().Refusal(new PeerCredentials(1, 1000, 1000, [27, 100]), OwnUid, OwnGid));
        // Without a configured group, the daemon's own group is the allowed one.
        ConnectionLimits defaults = ConnectionLimits.Default;
        Assert.Null(defaults.Refusal(new PeerCredentials(1, 1000, 1000, [OwnGid]), OwnUid, OwnGid));
        Assert.Equal($"permission denied: uid 1000 is not root and not in group {OwnGid}",
            defaults.Refusal(new PeerCredentials(1, 1000, 1000, [AllowedGroup]), OwnUid, OwnGid));
    }

    [Fact]
    public async Task The_kernel_reports_the_peers_credentials()
    {
        await using var test = TestServer.Start();
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(test.SocketPath), TimeoutExtensions.Ct).DefaultTimeout();

        PeerCredentials server = PeerCredentials.Of(socket);

        Assert.Equal(Environment.ProcessId, server.Pid);
        Assert.Equal(PeerCredentials.OfThisProcess().Uid, server.Uid);
    }

    /// <summary>
    /// A real client of another uid (setpriv, util-linux; nc.openbsd, which scripts/setup
    /// installs) sends <paramref name="input"/> and prints what comes back. The socket is made
    /// 0666 so that the file mode lets it reach connect: the check under test is the server's own.
    /// </summary>
    private static async Task<string> RunAsOtherUser(TestServer test, string groups, byte[] input)
    {
        if (PeerCredentials.OfThisProcess().Uid != 0)
            Assert.Skip("needs root to run a client under another uid (setpriv); the refusal logic itself is tested above without it");
        File.SetUnixFileMode(test.Folder, (UnixFileMode)Convert.ToInt32("755", 8));
        File.SetUnixFileMode(test.SocketPath, (UnixFileMode)Convert.ToInt32("666", 8));
        var start = new ProcessStartInfo("setpriv", ["--reuid=65534", "--regid=65534", groups, "nc.openbsd", "-N", "-U", test.SocketPath])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process nc = Process.Start(start)!;
        await nc.StandardInput.BaseStream.WriteAsync(input, TimeoutExtensions.Ct);
        nc.StandardInput.Close();
        string output = await nc.StandardOutput.ReadToEndAsync(TimeoutExtensions.Ct).DefaultTimeout();
        await nc.WaitForExitAsync(TimeoutExtensions.Ct).DefaultTimeout();
        return output + await nc.StandardError.ReadToEndAsync(TimeoutExtensions.Ct);
    }

    [Fact]
    public async Task A_client_of_another_uid_outside_the_group_is_refused()
    {
        await using var test = TestServer.Start(Limits());

        // It sends nothing: a refused client that writes races the close (SIGPIPE ends nc).
        string output = await RunAsOtherUser(test, "--clear-groups", []);

        Assert.Contains("permission denied: uid 65534 is not root and not in group 4242", output);
        Assert.DoesNotContain("\"echo\"", output);
        Assert.Contains(test.Log, line => line.Contains("refusing a client: permission denied: uid 65534"));
    }

    [Fact]
    public async Task A_client_of_another_uid_in_the_group_is_served()
    {
        await using var test = TestServer.Start(Limits());

        string output = await RunAsOtherUser(test, $"--groups={AllowedGroup}", RawConnection.Frame("""{"op":"echo","id":1}"""));

        Assert.Contains("\"echo\"", output);
        Assert.DoesNotContain("permission denied", output);
    }

    [Fact]
    public async Task The_connection_past_the_cap_is_told_and_closed()
    {
        await using var test = TestServer.Start(Limits(maxConnections: 2));
        await using RawConnection first = await test.ConnectRawAsync(), second = await test.ConnectRawAsync();
        // A reply on each proves both were admitted before the third arrives.
        Assert.True((bool)(await first.RoundTripAsync("""{"op":"echo"}"""))["ok"]!);
        Assert.True((bool)(await second.RoundTripAsync("""{"op":"echo"}"""))["ok"]!);

        await using RawConnection third = await test.ConnectRawAsync();
        JsonObject refused = await third.ReadReplyAsync() ?? throw new Xunit.Sdk.XunitException("closed without a reason");

        Assert.Equal("too many connections: 2 already open (the limit); try again later", (string)refused["error"]!);
        Assert.Null(await third.ReadReplyAsync());
        Assert.True((bool)(await first.RoundTripAsync("""{"op":"echo"}"""))["ok"]!);
    }

    [Fact]
    public async Task A_stalled_half_message_is_closed_after_the_frame_timeout()
    {
        await using var test = TestServer.Start(Limits(frameSeconds: 0.3));
        await using RawConnection connection = await test.ConnectRawAsync();
        byte[] frame = RawConnection.Frame("""{"op":"echo","pad":"0123456789"}""");
        var clock = Stopwatch.StartNew();

        await connection.SendAsync(frame[..10]); // the header and 6 bytes of the payload, then nothing

        JsonObject reply = await connection.ReadReplyAsync() ?? throw new Xunit.Sdk.XunitException("closed without a reason");
        Assert.Equal("timed out: 10 bytes of a message and no more for 0.3 s (frame timeout)", (string)reply["error"]!);
        Assert.Null(await connection.ReadReplyAsync());
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.3), $"closed after {clock.Elapsed}");
    }

    [Fact]
    public async Task An_idle_connection_is_closed_after_the_idle_timeout_but_not_before()
    {
        await using var test = TestServer.Start(Limits(idleSeconds: 0.5));
        await using RawConnection connection = await test.ConnectRawAsync();
        // Started before the request: the server's idle wait starts only after its reply.
        var clock = Stopwatch.StartNew();
        Assert.True((bool)(await connection.RoundTripAsync("""{"op":"echo"}"""))["ok"]!);

        JsonObject reply = await connection.ReadReplyAsync() ?? throw new Xunit.Sdk.XunitException("closed without a reason");

        Assert.Equal("timed out: no request for 0.5 s (idle timeout)", (string)reply["error"]!);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.5), $"closed after {clock.Elapsed}");
        Assert.Null(await connection.ReadReplyAsync());
    }

    [Fact]
    public async Task A_client_that_takes_no_replies_is_closed_after_the_frame_timeout()
    {
        await using var test = TestServer.Start(Limits(frameSeconds: 0.3));
        await using RawConnection connection = await test.ConnectRawAsync();
        // A 900 kB echo, never read: more than the socket buffers hold, so the server's write stalls.
        await connection.SendFrameAsync($$"""{"op":"echo","pad":"{{new string('x', 900_000)}}"}""");

        string dropped = await WaitForLog(test, "took no reply");

        Assert.Contains("it took no reply for 0.3 s (frame timeout)", dropped);
    }

    private static async Task<string> WaitForLog(TestServer test, string text)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeoutExtensions.Limit)
        {
            if (test.Log.FirstOrDefault(line => line.Contains(text)) is { } line)
                return line;
            await Task.Delay(20, TimeoutExtensions.Ct);
        }
        throw new Xunit.Sdk.XunitException($"no log line with '{text}': {string.Join(" | ", test.Log)}");
    }
}
