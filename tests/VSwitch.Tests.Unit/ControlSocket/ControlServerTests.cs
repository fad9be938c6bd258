using System.Text;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using Xunit;

namespace VSwitch.Tests.Unit.ControlSocket;

public sealed class ControlServerTests
{
    [Fact]
    public async Task Request_round_trips_and_gets_ok()
    {
        await using var test = TestServer.Start();
        await using ControlClient client = await test.ConnectAsync();

        JsonObject reply = await client.RequestAsync(new JsonObject { ["op"] = "echo", ["mtu"] = 1500 }, TimeoutExtensions.Ct).DefaultTimeout();

        Assert.True((bool)reply["ok"]!);
        Assert.Equal(1500, (int)reply["echo"]!["mtu"]!);
        Assert.Equal("echo", (string)reply["echo"]!["op"]!);
    }

    [Fact]
    public async Task Reply_echoes_the_request_id_on_success_and_on_every_kind_of_failure()
    {
        await using var test = TestServer.Start();
        await using RawConnection connection = await test.ConnectRawAsync();

        Assert.Equal(7, (int)(await connection.RoundTripAsync("""{"op":"echo","id":7}"""))["id"]!);
        Assert.Equal("a-1", (string)(await connection.RoundTripAsync("""{"op":"fail","id":"a-1"}"""))["id"]!);
        Assert.Equal(8, (int)(await connection.RoundTripAsync("""{"op":"crash","id":8}"""))["id"]!);
        Assert.Equal(9, (int)(await connection.RoundTripAsync("""{"id":9}"""))["id"]!);
        Assert.False((await connection.RoundTripAsync("""{"op":"echo"}""")).ContainsKey("id"));
    }

    [Fact]
    public async Task Envelope_fields_come_first_and_the_handler_cannot_override_them()
    {
        await using var test = TestServer.Start();
        await using RawConnection connection = await test.ConnectRawAsync();

        // echo puts the request, with its own "id", under "echo"; the top-level id is the envelope's.
        JsonObject reply = await connection.RoundTripAsync("""{"op":"echo","id":3}""");

        Assert.Equal(["ok", "id", "echo"], reply.Select(property => property.Key));
    }

    [Fact]
    public async Task Pipelined_requests_on_one_connection_are_answered_in_order()
    {
        await using var test = TestServer.Start();
        await using RawConnection connection = await test.ConnectRawAsync();
        // The earliest request takes longest, so replies would come out reversed if handled concurrently.
        byte[] burst = Enumerable.Range(0, 5)
            .SelectMany(i => RawConnection.Frame($$"""{"op":"delay","ms":{{(4 - i) * 10}},"tag":{{i}},"id":{{i}}}"""))
            .ToArray();

        await connection.SendAsync(burst);

        for (int i = 0; i < 5; i++)
        {
            JsonObject? reply = await connection.ReadReplyAsync();
            Assert.NotNull(reply);
            Assert.Equal(i, (int)reply["id"]!);
            Assert.Equal(i, (int)reply["tag"]!);
        }
    }

    [Fact]
    public async Task Frame_split_across_many_small_writes_is_reassembled()
    {
        await using var test = TestServer.Start();
        await using RawConnection connection = await test.ConnectRawAsync();
        byte[] frames = [.. RawConnection.Frame("""{"op":"echo","id":1,"name":"vm-a"}"""), .. RawConnection.Frame("""{"op":"echo","id":2}""")];

        // 1-3 bytes at a time, so the header and the payload are both cut in places.
        for (int offset = 0; offset < frames.Length;)
        {
            int length = Math.Min(1 + offset % 3, frames.Length - offset);
            await connection.SendAsync(frames[offset..(offset + length)]);
            offset += length;
            await Task.Delay(1, TimeoutExtensions.Ct);
        }

        JsonObject? first = await connection.ReadReplyAsync();
        JsonObject? second = await connection.ReadReplyAsync();
        Assert.Equal("vm-a", (string)first!["echo"]!["name"]!);
        Assert.Equal(2, (int)second!["id"]!);
    }

    public static TheoryData<string, byte[]> InvalidJson => new()
    {
        { "truncated object", Encoding.UTF8.GetBytes("""{"op":"echo" """) },
        { "trailing garbage", Encoding.UTF8.GetBytes("""{"op":"echo"} x""") },
        { "two objects", Encoding.UTF8.GetBytes("""{"op":"echo"}{"op":"echo"}""") },
        { "empty", [] },
        { "duplicate key", Encoding.UTF8.GetBytes("""{"op":"echo","op":"fail"}""") },
        { "nested duplicate key", Encoding.UTF8.GetBytes("""{"op":"echo","vm":{"a":1,"a":2}}""") },
        { "invalid UTF-8", [.. """{"op":"echo","name":"""u8, (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)'}'] },
        { "lone surrogate escape", Encoding.UTF8.GetBytes("""{"op":"echo","name":"\ud800"}""") },
        { "too deep", Encoding.UTF8.GetBytes(new string('[', 100) + new string(']', 100)) },
    };

    [Theory]
    [MemberData(nameof(InvalidJson))]
    public async Task Invalid_JSON_gets_an_error_and_the_connection_keeps_working(string what, byte[] payload)
    {
        _ = what;
        await using var test = TestServer.Start();
        await using RawConnection connection = await test.ConnectRawAsync();

        await connection.SendAsync(RawConnection.Frame(payload));
        JsonObject? error = await connection.ReadReplyAsync();
        JsonObject next = await connection.RoundTripAsync("""{"op":"echo","id":2}""");

        Assert.False((bool)error!["ok"]!);
        Assert.StartsWith("invalid JSON: ", (string)error["error"]!);
        Assert.True((bool)next["ok"]!);
        Assert.Equal(2, (int)next["id"]!);
        Assert.Empty(test.Log);
    }

    [Theory]
    [InlineData("[1,2]", "request is an array")]
    [InlineData("42", "request is a number")]
    [InlineData("\"status\"", "request is a string")]
    [InlineData("null", "request is null")]
    [InlineData("true", "request is a boolean")]
    public async Task Request_that_is_not_an_object_is_refused(string json, string error)
    {
        await using var test = TestServer.Start();
        await using RawConnection connection = await test.ConnectRawAsync();

        JsonObject reply = await connection.RoundTripAsync(json);

        Assert.False((bool)reply["ok"]!);
        Assert.StartsWith(error, (string)reply["error"]!);
        Assert.True((bool)(await connection.RoundTripAsync("""{"op":"echo"}"""))["ok"]!);
    }

    [Theory]
    [InlineData("""{"id":1}""")]
    [InlineData("""{"op":5}""")]
    [InlineData("""{"op":null}""")]
    [InlineData("""{"op":["status"]}""")]
    public async Task Request_without_a_string_op_is_refused(string json)
    {
        await using var test = TestServer.Start();
        await using RawConnection connection = await test.ConnectRawAsync();

        JsonObject reply = await connection.RoundTripAsync(json);

        Assert.False((bool)reply["ok"]!);
        Assert.Equal("request has no string field \"op\"", (string)reply["error"]!);
    }

    [Fact]
    public async Task Unknown_op_is_the_handlers_to_refuse()
    {
        await using var test = TestServer.Start();
        await using ControlClient client = await test.ConnectAsync();

        JsonObject reply = await client.RequestRawAsync(new JsonObject { ["op"] = "frobnicate" }, TimeoutExtensions.Ct).DefaultTimeout();

        Assert.Equal("unknown op \"frobnicate\"", (string)reply["error"]!);
    }

    [Fact]
    public async Task ControlException_becomes_the_error_text_and_the_connection_keeps_working()
    {
        await using var test = TestServer.Start();
        await using ControlClient client = await test.ConnectAsync();

        var failed = await Assert.ThrowsAsync<ControlRequestFailedException>(
            () => client.RequestAsync(new JsonObject { ["op"] = "fail" }, TimeoutExtensions.Ct).DefaultTimeout());

        Assert.Equal("no such port: eth9", failed.Error);
        Assert.Equal("no such port: eth9", failed.Message);
        Assert.False((bool)failed.Reply["ok"]!);
        Assert.True((bool)(await client.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout())["ok"]!);
        Assert.Empty(test.Log);
    }

    [Fact]
    public async Task Other_handler_exception_is_an_internal_error_logged_with_its_stack()
    {
        await using var test = TestServer.Start();
        await using (ControlClient client = await test.ConnectAsync())
        {
            JsonObject reply = await client.RequestRawAsync(new JsonObject { ["op"] = "crash" }, TimeoutExtensions.Ct).DefaultTimeout();

            Assert.False((bool)reply["ok"]!);
            Assert.Equal("internal error: handler bug", (string)reply["error"]!);
            Assert.True((bool)(await client.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout())["ok"]!);
        }
        await using ControlClient another = await test.ConnectAsync();

        Assert.True((bool)(await another.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout())["ok"]!);
        string logged = Assert.Single(test.Log);
        Assert.Contains("crash failed: System.InvalidOperationException: handler bug", logged);
        Assert.Contains(" at ", logged);
    }

    [Fact]
    public async Task Reply_over_the_limit_is_replaced_by_an_error()
    {
        await using var test = TestServer.Start();
        await using ControlClient client = await test.ConnectAsync();

        JsonObject reply = await client.RequestRawAsync(new JsonObject { ["op"] = "big", ["id"] = 4 }, TimeoutExtensions.Ct).DefaultTimeout();

        Assert.False((bool)reply["ok"]!);
        Assert.Equal(4, (int)reply["id"]!);
        Assert.Contains("over the 1048576-byte message limit", (string)reply["error"]!);
        Assert.True((bool)(await client.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout())["ok"]!);
    }

    [Fact]
    public async Task Oversize_length_gets_an_error_then_that_connection_is_closed_and_others_are_served()
    {
        await using var test = TestServer.Start();
        await using ControlClient bystander = await test.ConnectAsync();
        await using RawConnection connection = await test.ConnectRawAsync();

        // The header alone: the server must not wait for the 2 MiB it announces.
        await connection.SendAsync([0x00, 0x20, 0x00, 0x00]);
        JsonObject? error = await connection.ReadReplyAsync();
        JsonObject? afterError = await connection.ReadReplyAsync();

        Assert.False((bool)error!["ok"]!);
        Assert.Equal("message of 2097152 bytes exceeds the 1048576-byte limit", (string)error["error"]!);
        Assert.Null(afterError);
        Assert.True((bool)(await bystander.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout())["ok"]!);
        await using ControlClient newcomer = await test.ConnectAsync();
        Assert.True((bool)(await newcomer.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout())["ok"]!);
        Assert.Contains("dropping a client: message of 2097152 bytes", Assert.Single(test.Log));
    }

    [Fact]
    public async Task Message_of_exactly_the_limit_is_accepted()
    {
        await using var test = TestServer.Start();
        await using ControlClient client = await test.ConnectAsync();
        const string Envelope = """{"op":"echo","pad":""}""";
        var request = new JsonObject { ["op"] = "echo", ["pad"] = new string('p', ControlFraming.MaxMessageLength - Envelope.Length) };

        JsonObject reply = await client.RequestRawAsync(request, TimeoutExtensions.Ct).DefaultTimeout();

        // Echoed back with the envelope around it, so the reply is over the limit: refused, but the request got through.
        Assert.Contains("reply to echo is", (string)reply["error"]!);
    }

    [Fact]
    public async Task Client_closing_mid_frame_is_logged_and_the_server_carries_on()
    {
        await using var test = TestServer.Start();
        await using (RawConnection connection = await test.ConnectRawAsync())
            await connection.SendAsync(RawConnection.Frame("""{"op":"echo"}""")[..8]);
        await using ControlClient client = await test.ConnectAsync();

        Assert.True((bool)(await client.RequestAsync(new JsonObject { ["op"] = "echo" }, TimeoutExtensions.Ct).DefaultTimeout())["ok"]!);
        await WaitUntilAsync(() => !test.Log.IsEmpty);
        Assert.Contains("dropping a client: the connection closed 8 bytes into a message", Assert.Single(test.Log));
    }

    [Fact]
    public async Task Twenty_concurrent_clients_each_get_their_own_replies()
    {
        await using var test = TestServer.Start();

        await Task.WhenAll(Enumerable.Range(0, 20).Select(async client =>
        {
            await using ControlClient connection = await test.ConnectAsync();
            for (int i = 0; i < 5; i++)
            {
                string tag = $"{client}/{i}";
                JsonObject reply = await connection.RequestAsync(new JsonObject { ["op"] = "delay", ["ms"] = 1, ["tag"] = tag, ["id"] = i }, TimeoutExtensions.Ct).DefaultTimeout();
                Assert.Equal(tag, (string)reply["tag"]!);
                Assert.Equal(i, (int)reply["id"]!);
            }
        })).DefaultTimeout();
    }

    [Fact]
    public async Task Dispose_removes_the_socket_file_and_closes_clients()
    {
        await using var test = TestServer.Start();
        await using RawConnection idle = await test.ConnectRawAsync();
        Assert.True((await idle.RoundTripAsync("""{"op":"echo"}"""))["ok"]!.GetValue<bool>());
        Assert.True(File.Exists(test.SocketPath));

        await test.Server!.DisposeAsync().DefaultTimeout();

        Assert.False(File.Exists(test.SocketPath));
        Assert.Null(await idle.ReadReplyAsync());
        await test.Server.DisposeAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Dispose_answers_a_request_in_flight_with_shutting_down()
    {
        await using var test = TestServer.Start();
        await using ControlClient client = await test.ConnectAsync();
        Task<JsonObject> blocked = client.RequestRawAsync(new JsonObject { ["op"] = "block", ["id"] = 1 }, TimeoutExtensions.Ct);
        await test.Handler.BlockEntered.Task.DefaultTimeout();

        await test.Server!.DisposeAsync().DefaultTimeout();
        JsonObject reply = await blocked.DefaultTimeout();

        Assert.Equal("vswitchd is shutting down", (string)reply["error"]!);
        Assert.Equal(1, (int)reply["id"]!);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TimeoutExtensions.Ct);
        deadline.CancelAfter(TimeoutExtensions.Limit);
        while (!condition())
            await Task.Delay(5, deadline.Token);
    }
}
