using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using VSwitch.Dataplane.Cli;
using Xunit;

namespace VSwitch.Tests.Unit.ControlSocket;

public sealed class ControlCliTests
{
    [Theory]
    [InlineData("1500", "1500")]
    [InlineData("-3", "-3")]
    [InlineData("0", "0")]
    [InlineData("2.5e3", "2.5e3")]
    [InlineData("""["10.0.0.1","10.0.0.2"]""", """["10.0.0.1","10.0.0.2"]""")]
    [InlineData("""{"a":1}""", """{"a":1}""")]
    [InlineData("\"42\"", "\"42\"")]
    [InlineData("vm-a", "\"vm-a\"")]
    [InlineData("007", "\"007\"")]
    [InlineData("1.", "\"1.\"")]
    [InlineData("0x10", "\"0x10\"")]
    [InlineData("10.0.0.1", "\"10.0.0.1\"")]
    [InlineData("52:54:00:12:34:56", "\"52:54:00:12:34:56\"")]
    [InlineData("net_pcap0,rx_pcap=in.pcap", "\"net_pcap0,rx_pcap=in.pcap\"")]
    [InlineData("true", "\"true\"")]
    [InlineData("", "\"\"")]
    public void Value_is_JSON_when_it_looks_like_a_number_array_object_or_quoted_string(string text, string expectedJson)
    {
        JsonNode? value = ControlCli.ParseValue("k", text);

        Assert.Equal(expectedJson, value!.ToJsonString());
    }

    [Theory]
    [InlineData("[10.0.0.1]")]
    [InlineData("{oops")]
    [InlineData("\"unterminated")]
    public void Value_that_starts_like_JSON_but_is_not_is_a_usage_error(string text)
    {
        var error = Assert.Throws<ControlCommand.UsageException>(() => ControlCli.ParseValue("ipv4", text));

        Assert.StartsWith($"ipv4={text} looks like JSON but is not", error.Message);
    }

    [Fact]
    public void Op_and_pairs_make_the_request()
    {
        ControlCommand.Invocation invocation = ControlCli.Parse(
            ["--socket", "/run/x.sock", "add-vm", "tenant=acme", "name=vm-a", "port=vhost0", "mac=52:54:00:00:00:01", """ipv4=["10.0.0.5"]"""],
            environmentSocket: null);

        Assert.Equal("/run/x.sock", invocation.SocketPath);
        Assert.Equal(
            """{"op":"add-vm","tenant":"acme","name":"vm-a","port":"vhost0","mac":"52:54:00:00:00:01","ipv4":["10.0.0.5"]}""",
            invocation.Request.ToJsonString());
    }

    [Theory]
    [InlineData(new[] { "status" }, null, ControlCli.DefaultSocketPath)]
    [InlineData(new[] { "status" }, "", ControlCli.DefaultSocketPath)]
    [InlineData(new[] { "status" }, "/env.sock", "/env.sock")]
    [InlineData(new[] { "status", "--socket", "/arg.sock" }, "/env.sock", "/arg.sock")]
    [InlineData(new[] { "--socket=/eq.sock", "status" }, "/env.sock", "/eq.sock")]
    public void Socket_comes_from_the_option_else_the_environment_else_the_default(string[] args, string? environment, string expected)
    {
        Assert.Equal(expected, ControlCli.Parse(args, environment).SocketPath);
    }

    [Fact]
    public void Json_option_is_the_whole_request()
    {
        ControlCommand.Invocation invocation = ControlCli.Parse(["--json", """{"op":"add-port","name":"p0","mtu":9000}""", "--timeout", "2.5"], null);

        Assert.Equal("""{"op":"add-port","name":"p0","mtu":9000}""", invocation.Request.ToJsonString());
        Assert.Equal(TimeSpan.FromSeconds(2.5), invocation.Timeout);
    }

    [Theory]
    [InlineData(new string[0], "no op given")]
    [InlineData(new[] { "--socket" }, "Required argument missing for option: '--socket'")]
    [InlineData(new[] { "--socket", "", "status" }, "--socket needs a path")]
    [InlineData(new[] { "add-port", "name" }, "expected key=value after the op, not \"name\"")]
    [InlineData(new[] { "add-port", "=x" }, "expected key=value after the op, not \"=x\"")]
    [InlineData(new[] { "add-port", "name=a", "name=b" }, "name is given twice")]
    [InlineData(new[] { "status", "op=list" }, "the op is the first word, not an op= field")]
    [InlineData(new[] { "--verbose", "status" }, "unknown option --verbose")]
    [InlineData(new[] { "status", "-v" }, "unknown option -v")]
    [InlineData(new[] { "--timeout", "0", "status" }, "--timeout takes a positive number of seconds, not \"0\"")]
    [InlineData(new[] { "--timeout", "soon", "status" }, "--timeout takes a positive number of seconds, not \"soon\"")]
    [InlineData(new[] { "--json", "[1]" }, "--json needs a JSON object")]
    [InlineData(new[] { "--json", "{", }, "--json is not valid JSON")]
    [InlineData(new[] { "--json", "{\"op\":\"status\"}", "extra" }, "--json is the whole request; unexpected \"extra\"")]
    public void Bad_arguments_are_usage_errors(string[] args, string message)
    {
        var error = Assert.Throws<ControlCommand.UsageException>(() => ControlCli.Parse(args, null));

        Assert.StartsWith(message, error.Message);
    }

    [Fact]
    public async Task Ok_reply_is_printed_indented_and_exits_0()
    {
        await using var test = TestServer.Start();

        (int exit, string stdout, string stderr) = await RunAsync("--socket", test.SocketPath, "echo", "mtu=1500", "name=vm-a");

        Assert.Equal(ControlCli.ExitOk, exit);
        Assert.Equal("", stderr);
        Assert.Contains("\n  \"ok\": true,\n", stdout);
        JsonObject reply = Assert.IsType<JsonObject>(JsonNode.Parse(stdout));
        Assert.Equal(1500, (int)reply["echo"]!["mtu"]!);
        Assert.Equal("vm-a", (string)reply["echo"]!["name"]!);
    }

    [Fact]
    public async Task Refused_request_prints_the_error_and_exits_1()
    {
        await using var test = TestServer.Start();

        (int exit, string stdout, string stderr) = await RunAsync("--socket", test.SocketPath, "--json", """{"op":"fail","id":3}""");

        Assert.Equal(ControlCli.ExitRefused, exit);
        Assert.Equal("vswitchd ctl: fail: no such port: eth9\n", stderr);
        Assert.Equal(3, (int)JsonNode.Parse(stdout)!["id"]!);
    }

    [Fact]
    public async Task Missing_socket_exits_2_and_says_so()
    {
        await using var test = TestServer.Prepare();

        (int exit, string stdout, string stderr) = await RunAsync("--socket", test.SocketPath, "status");

        Assert.Equal(ControlCli.ExitUsage, exit);
        Assert.Equal("", stdout);
        Assert.Equal($"vswitchd ctl: cannot connect to {test.SocketPath}: No such file or directory — is vswitchd running?\n", stderr);
    }

    [Fact]
    public async Task Stale_socket_exits_2_with_connection_refused()
    {
        await using var test = TestServer.Prepare();
        test.LeaveStaleSocket();

        (int exit, _, string stderr) = await RunAsync("--socket", test.SocketPath, "status");

        Assert.Equal(ControlCli.ExitUsage, exit);
        Assert.Equal($"vswitchd ctl: cannot connect to {test.SocketPath}: Connection refused — is vswitchd running?\n", stderr);
    }

    [Fact]
    public async Task No_reply_within_the_timeout_exits_2()
    {
        await using var test = TestServer.Start();

        (int exit, _, string stderr) = await RunAsync("--socket", test.SocketPath, "--timeout", "0.1", "block");

        Assert.Equal(ControlCli.ExitUsage, exit);
        // Normally "no reply from"; "cannot connect to" if a loaded machine took 0.1 s to connect.
        Assert.EndsWith($"{test.SocketPath} within 0.1 s\n", stderr);
    }

    [Fact]
    public async Task Socket_path_too_long_for_sun_path_exits_2()
    {
        string path = "/tmp/" + new string('x', 120) + ".sock";

        (int exit, _, string stderr) = await RunAsync("--socket", path, "status");

        Assert.Equal(ControlCli.ExitUsage, exit);
        Assert.StartsWith($"vswitchd ctl: cannot connect to {path}: ", stderr);
    }

    [Fact]
    public async Task Usage_error_exits_2_with_the_usage_on_stderr()
    {
        (int exit, string stdout, string stderr) = await RunAsync("--socket", "/nonexistent.sock");

        Assert.Equal(ControlCli.ExitUsage, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith("vswitchd ctl: no op given\nusage: vswitchd ctl", stderr);
    }

    [Fact]
    public async Task Help_prints_the_usage_and_exits_0()
    {
        (int exit, string stdout, _) = await RunAsync("--help");

        Assert.Equal(ControlCli.ExitOk, exit);
        Assert.Contains(" ctl [<request>...] [options]", stdout);
        Assert.Contains("A key=value pair becomes a field of the request", stdout);
        Assert.Contains("--timeout <SECONDS>", stdout);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        int exit = await ControlCli.RunAsync(args, stdout, stderr, TimeoutExtensions.Ct).DefaultTimeout();
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
