// How every verb that talks to the agent runs: the socket from --socket, $VSWITCH_AGENT_SOCKET or
// AgentClient.DefaultSocket; one client for the verb; its output in the format -o chose; and the
// agent's failures as one line on stderr and an exit status (ExitStatus). A request the agent
// refused (400 a bad field, 404 no such resource, 409 a conflict) is the operator's input, as is
// a socket nobody answers on: both exit 2. Any other failure, the agent's or the answer's, exits 1.
using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using VSwitch.Common.Cli;
using VSwitch.Control.Api;

namespace VSwitch.Control.Vswctl;

/// <summary>The options every verb takes, wherever on the command line they stand.</summary>
internal sealed class GlobalOptions
{
    public Option<string> Socket { get; } = new("--socket")
    {
        Description = $"the agent's socket (default: ${VswctlCommandLine.SocketEnvironmentVariable}, else {AgentClient.DefaultSocket})",
        HelpName = "PATH",
        Recursive = true,
    };

    public Option<string> Output { get; } = new Option<string>("--output", "-o")
    {
        Description = "how to print the answer: table, for people, or json, the API's own, for scripts",
        HelpName = "FORMAT",
        Recursive = true,
        DefaultValueFactory = _ => Printer.TableName,
    }.AcceptOnlyFromAmong(Printer.TableName, Printer.JsonName);

    public GlobalOptions() =>
        Socket.Validators.Add(result =>
        {
            if (result.Tokens.Any(t => t.Value.Length == 0))
                result.AddError("--socket needs a path");
        });
}

internal sealed class AgentVerbs(GlobalOptions options, TextWriter stdout, TextWriter stderr, Func<string, IAgentCalls> connect, string? environmentSocket)
{
    /// <summary>A verb's work: its requests to the agent and what it prints of their answers.</summary>
    public delegate Task Body(ParseResult parse, IAgentCalls agent, Printer printer, CancellationToken ct);

    public void SetAction(Command verb, Body body) => verb.SetAction((parse, ct) => RunAsync(parse, body, ct));

    private async Task<int> RunAsync(ParseResult parse, Body body, CancellationToken ct)
    {
        string socket = parse.GetValue(options.Socket) ?? (string.IsNullOrEmpty(environmentSocket) ? AgentClient.DefaultSocket : environmentSocket);
        var printer = new Printer(stdout, Printer.Parse(parse.GetValue(options.Output)!));
        string verb = CommandLines.CommandPath(VswctlCommandLine.Program, parse);
        try
        {
            using IAgentCalls agent = connect(socket);
            await body(parse, agent, printer, ct).ConfigureAwait(false);
            return ExitStatus.Ok;
        }
        catch (AgentException e)
        {
            await stderr.WriteLineAsync($"{verb}: {e.Body.Error}").ConfigureAwait(false);
            return e.Status is HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.Conflict ? ExitStatus.BadInput : ExitStatus.Failed;
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            return await UnreachableAsync(socket, ConnectFailure(socket, e)).ConfigureAwait(false);
        }
        catch (TaskCanceledException e) when (e.InnerException is TimeoutException)
        {
            return await UnreachableAsync(socket, $"no answer within {AgentClient.DefaultTimeout.TotalSeconds} s").ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            await stderr.WriteLineAsync($"{verb}: the request to the agent at {socket} failed: {e.Message}").ConfigureAwait(false);
            return ExitStatus.Failed;
        }
        catch (JsonException e)
        {
            await stderr.WriteLineAsync($"{verb}: the agent's answer is not what this vswctl reads: {e.Message}").ConfigureAwait(false);
            return ExitStatus.Failed;
        }
    }

    private async Task<int> UnreachableAsync(string socket, string reason)
    {
        await stderr.WriteLineAsync($"{VswctlCommandLine.Program}: cannot reach the agent at {socket}: {reason}").ConfigureAwait(false);
        return ExitStatus.BadInput;
    }

    // A path too long for a Unix socket (over 107 bytes) comes as an ArgumentException inside.
    private static string ConnectFailure(string socket, HttpRequestException e) =>
        Common.Sockets.ConnectFailure.Describe(socket, "the agent", e.InnerException as SocketException, e.InnerException?.Message ?? e.Message);
}
