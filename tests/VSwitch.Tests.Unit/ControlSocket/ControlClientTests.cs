using System.Net.Sockets;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using Xunit;

namespace VSwitch.Tests.Unit.ControlSocket;

public sealed class ControlClientTests
{
    [Fact]
    public async Task Interrupted_request_makes_the_connection_refuse_further_requests()
    {
        await using var test = TestServer.Start();
        await using ControlClient client = await test.ConnectAsync();
        using var cancel = new CancellationTokenSource();
        Task<JsonObject> blocked = client.RequestAsync(new JsonObject { ["op"] = "block" }, cancel.Token);
        await test.Handler.BlockEntered.Task.DefaultTimeout();

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocked.DefaultTimeout());
        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => client.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout());
        Assert.Contains("connect again", error.Message);
    }

    [Fact]
    public async Task An_exchange_past_its_own_deadline_is_a_timeout_and_the_callers_cancel_stays_a_cancel()
    {
        await using var test = TestServer.Start();
        await using ControlClient client = await test.ConnectAsync();
        var error = await Assert.ThrowsAsync<TimeoutException>(() => ControlClient.WithinAsync(TimeSpan.FromMilliseconds(100),
            token => client.RequestAsync(new JsonObject { ["op"] = "block" }, token), TimeoutExtensions.Ct).DefaultTimeout());
        Assert.Equal("no answer within 0.1 s", error.Message);

        using var cancel = new CancellationTokenSource();
        await using ControlClient second = await test.ConnectAsync();
        Task<JsonObject> blocked = ControlClient.WithinAsync(TimeSpan.FromMinutes(1), token => second.RequestAsync(new JsonObject { ["op"] = "block" }, token), cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocked.DefaultTimeout());
        Assert.Equal(7, (int)(await ControlClient.WithinAsync(TimeSpan.FromSeconds(5), token => Task.FromResult(7), TimeoutExtensions.Ct))!);
    }

    [Fact]
    public async Task Request_over_the_limit_is_refused_before_anything_is_sent()
    {
        await using var test = TestServer.Start();
        await using ControlClient client = await test.ConnectAsync();
        var huge = new JsonObject { ["op"] = "echo", ["pad"] = new string('p', ControlFraming.MaxMessageLength) };

        await Assert.ThrowsAsync<ArgumentException>(() => client.RequestAsync(huge, TimeoutExtensions.Ct).DefaultTimeout());

        Assert.True((bool)(await client.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout())["ok"]!);
    }

    [Fact]
    public async Task Request_after_dispose_throws()
    {
        await using var test = TestServer.Start();
        ControlClient client = await test.ConnectAsync();

        await client.DisposeAsync().DefaultTimeout();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout());
    }

    [Theory]
    [InlineData("[1]", "is not a JSON object with a boolean \"ok\"")]
    [InlineData("""{"ok":"yes"}""", "is not a JSON object with a boolean \"ok\"")]
    [InlineData("{", "bad reply from")]
    [InlineData(null, "closed the connection")]
    public async Task Reply_that_breaks_the_protocol_is_a_ControlProtocolException(string? reply, string message)
    {
        await using var test = TestServer.Prepare();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(test.SocketPath));
        listener.Listen(1);
        Task server = ReplyOnceAsync(listener, reply);
        await using ControlClient client = await test.ConnectAsync();

        var error = await Assert.ThrowsAsync<ControlProtocolException>(
            () => client.RequestAsync(new JsonObject { ["op"] = "status" }, TimeoutExtensions.Ct).DefaultTimeout());

        Assert.Contains(message, error.Message);
        await server.DefaultTimeout();
    }

    /// <summary>A server that reads one request and answers it with <paramref name="reply"/>, or hangs up if null.</summary>
    private static async Task ReplyOnceAsync(Socket listener, string? reply)
    {
        using Socket accepted = await listener.AcceptAsync(TimeoutExtensions.Ct).DefaultTimeout();
        byte[] request = new byte[64];
        await accepted.ReceiveAsync(request, TimeoutExtensions.Ct).AsTask().DefaultTimeout();
        if (reply is not null)
            await accepted.SendAsync(RawConnection.Frame(reply), TimeoutExtensions.Ct).AsTask().DefaultTimeout();
    }
}
