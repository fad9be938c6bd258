// How vswctl fails (ExitStatus): a request the agent refused (400, 404, 409) is the operator's
// input, exit 2 with the agent's message after the verb; any other failure of the agent or of its
// answer exits 1; an agent that cannot be reached (no socket, nobody listening, no answer) exits 2
// naming the socket. Usage errors exit 2 before any request.
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using VSwitch.Common.Cli;
using VSwitch.Control.Vswctl;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Vswctl;

public sealed class VswctlErrorTests
{
    [Theory]
    [InlineData(HttpStatusCode.BadRequest, ExitStatus.BadInput)]
    [InlineData(HttpStatusCode.NotFound, ExitStatus.BadInput)]
    [InlineData(HttpStatusCode.Conflict, ExitStatus.BadInput)]
    [InlineData(HttpStatusCode.InternalServerError, ExitStatus.Failed)]
    [InlineData(HttpStatusCode.ServiceUnavailable, ExitStatus.Failed)]
    // AgentClient's "empty body" failure carries the success status it came with.
    [InlineData(HttpStatusCode.Created, ExitStatus.Failed)]
    public async Task An_agent_error_prints_its_message_after_the_verb_and_exits_by_its_status(HttpStatusCode status, int expected)
    {
        var run = new VswctlRun();
        run.Agent.Failure = FakeAgent.Refusal(status, "nics[0].mac: '02:00:00:00:00:01' is taken in tenant 'acme' by vm 'web'", "nics[0].mac");

        (int exit, string stdout, string stderr) = await run.RunAsync("vm", "create", "db", "--tenant", "acme", "--vcpus", "1", "--memory-mib", "64",
            "--kernel", "/k", "--nic", "mac=02:00:00:00:00:01,ip=10.0.0.9");

        Assert.Equal(expected, exit);
        Assert.Equal("", stdout);
        Assert.Equal("vswctl vm create: nics[0].mac: '02:00:00:00:00:01' is taken in tenant 'acme' by vm 'web'\n", stderr);
    }

    [Fact]
    public async Task A_show_of_a_missing_resource_exits_2()
    {
        (int exit, string stdout, string stderr) = await new VswctlRun().RunAsync("volume", "show", "nothing");

        Assert.Equal((ExitStatus.BadInput, ""), (exit, stdout));
        Assert.Equal("vswctl volume show: /v1/volumes/nothing: no such resource\n", stderr);
    }

    [Fact]
    public async Task A_missing_socket_is_an_agent_that_cannot_be_reached()
    {
        string socket = Path.Combine(Path.GetTempPath(), $"vswctl-none-{Guid.NewGuid():N}.sock");
        var run = new VswctlRun { Connect = AgentConnection.Open };

        (int exit, string stdout, string stderr) = await run.RunAsync("tenant", "list", "--socket", socket);

        Assert.Equal((ExitStatus.BadInput, ""), (exit, stdout));
        Assert.Equal($"vswctl: cannot reach the agent at {socket}: No such file or directory — is the agent running?\n", stderr);
    }

    [Fact]
    public async Task A_socket_nobody_listens_on_is_an_agent_that_cannot_be_reached()
    {
        string folder = Directory.CreateTempSubdirectory("vswctl.").FullName;
        try
        {
            // Bound but not listening: what an agent that died leaves behind; connect() is refused.
            string socket = Path.Combine(folder, "agent.sock");
            using var bound = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            bound.Bind(new UnixDomainSocketEndPoint(socket));
            var run = new VswctlRun { Connect = AgentConnection.Open, EnvironmentSocket = socket };

            (int exit, _, string stderr) = await run.RunAsync("capacity");

            Assert.Equal(ExitStatus.BadInput, exit);
            Assert.Equal($"vswctl: cannot reach the agent at {socket}: Connection refused — is the agent running?\n", stderr);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_socket_path_too_long_for_a_unix_socket_is_an_agent_that_cannot_be_reached()
    {
        string socket = "/tmp/" + new string('a', 120) + ".sock";

        (int exit, _, string stderr) = await new VswctlRun { Connect = AgentConnection.Open }.RunAsync("tenant", "list", "--socket", socket);

        Assert.Equal(ExitStatus.BadInput, exit);
        Assert.StartsWith($"vswctl: cannot reach the agent at {socket}: ", stderr);
    }

    [Fact]
    public async Task An_agent_that_does_not_answer_in_time_cannot_be_reached()
    {
        var run = new VswctlRun();
        // What HttpClient throws when its timeout passes.
        run.Agent.Failure = new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout", new TimeoutException());

        (int exit, _, string stderr) = await run.RunAsync("tenant", "list", "--socket", "/run/a.sock");

        Assert.Equal(ExitStatus.BadInput, exit);
        Assert.Equal("vswctl: cannot reach the agent at /run/a.sock: no answer within 30 s\n", stderr);
    }

    [Fact]
    public async Task An_answer_cut_short_or_unreadable_is_a_failure_of_the_verb()
    {
        var cut = new VswctlRun();
        cut.Agent.Failure = new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely.");
        var unreadable = new VswctlRun();
        unreadable.Agent.Failure = new JsonException("The JSON property 'colour' could not be mapped to any .NET member.");

        (int cutExit, _, string cutErr) = await cut.RunAsync("vm", "list", "--socket", "/run/a.sock");
        (int unreadableExit, _, string unreadableErr) = await unreadable.RunAsync("vm", "list");

        Assert.Equal(ExitStatus.Failed, cutExit);
        Assert.Equal("vswctl vm list: the request to the agent at /run/a.sock failed: The response ended prematurely.\n", cutErr);
        Assert.Equal(ExitStatus.Failed, unreadableExit);
        Assert.Equal("vswctl vm list: the agent's answer is not what this vswctl reads: The JSON property 'colour' could not be mapped to any .NET member.\n", unreadableErr);
    }

    [Theory]
    [InlineData(new[] { "tenant", "create", "acme" }, "vswctl tenant create: Option '--vni' is required.\nsee 'vswctl tenant create --help'\n")]
    [InlineData(new[] { "tenant", "create", "acme", "--vni", "ten" }, "vswctl tenant create: Cannot parse argument 'ten' for option '--vni' as expected type 'System.UInt32'.\nsee 'vswctl tenant create --help'\n")]
    [InlineData(new[] { "host", "create", "h", "--vtep", "192.0.2.1", "--tunnel", "gre" }, "vswctl host create: Argument 'gre' not recognized. Must be one of:\n\t'vxlan'\n\t'geneve'\nsee 'vswctl host create --help'\n")]
    [InlineData(new[] { "remote-vm", "create", "c", "--tenant", "t", "--mac", "02:00:00:00:00:0c" }, "vswctl remote-vm create: Option '--host' is required.\nsee 'vswctl remote-vm create --help'\n")]
    [InlineData(new[] { "tenant", "list", "-o", "yaml" }, "vswctl tenant list: Argument 'yaml' not recognized. Must be one of:\n\t'table'\n\t'json'\nsee 'vswctl tenant list --help'\n")]
    [InlineData(new[] { "tenant", "list", "--socket", "" }, "vswctl tenant list: --socket needs a path\nsee 'vswctl tenant list --help'\n")]
    [InlineData(new[] { "tenant", "show" }, "vswctl tenant show: Required argument 'NAME' missing for command: 'show'.\nsee 'vswctl tenant show --help'\n")]
    [InlineData(new[] { "vm", "create", "w", "--tenant", "t", "--vcpus", "1", "--memory-mib", "1", "--kernel", "" }, "vswctl vm create: --kernel needs a path, not ''\nsee 'vswctl vm create --help'\n")]
    [InlineData(new[] { "tenant" }, "vswctl tenant: Required command was not provided.\nsee 'vswctl tenant --help'\n")]
    [InlineData(new[] { "tenant", "rename" }, "vswctl tenant: Required command was not provided.\nvswctl tenant: Unrecognized command or argument 'rename'.\nsee 'vswctl tenant --help'\n")]
    [InlineData(new[] { "network", "list" }, "vswctl: Required command was not provided.\nvswctl: Unrecognized command or argument 'network'.\nvswctl: Unrecognized command or argument 'list'.\nsee 'vswctl --help'\n")]
    [InlineData(new string[0], "vswctl: Required command was not provided.\nsee 'vswctl --help'\n")]
    public async Task Usage_errors_exit_2_naming_the_verb_before_any_request(string[] args, string expected)
    {
        var run = new VswctlRun();

        (int exit, string stdout, string stderr) = await run.RunAsync(args);

        Assert.Equal((ExitStatus.BadInput, "", expected), (exit, stdout, stderr));
        Assert.Empty(run.Sockets);
    }

    public static TheoryData<string[]> EveryVerb => new(
        [],
        ["tenant"], ["tenant", "create"], ["tenant", "list"], ["tenant", "show"], ["tenant", "delete"],
        ["volume"], ["volume", "create"], ["volume", "list"], ["volume", "show"], ["volume", "delete"],
        ["host"], ["host", "create"], ["host", "list"], ["host", "show"], ["host", "delete"],
        ["remote-vm"], ["remote-vm", "create"], ["remote-vm", "list"], ["remote-vm", "show"], ["remote-vm", "delete"],
        ["vm"], ["vm", "create"], ["vm", "list"], ["vm", "show"], ["vm", "delete"],
        ["capacity"]);

    [Theory]
    [MemberData(nameof(EveryVerb))]
    public async Task Help_works_on_every_verb(string[] verb)
    {
        var run = new VswctlRun();

        (int exit, string stdout, string stderr) = await run.RunAsync([.. verb, "--help"]);

        Assert.Equal((ExitStatus.Ok, ""), (exit, stderr));
        // The usage line starts with the executable's name: vswctl, or the test runner here.
        string usage = stdout.Split("Usage:\n")[1].Split('\n')[0];
        Assert.Contains(string.Join("", verb.Select(v => $" {v}")) + " ", usage);
        Assert.Contains("--socket <PATH>", stdout);
        Assert.Empty(run.Sockets);
    }
}
