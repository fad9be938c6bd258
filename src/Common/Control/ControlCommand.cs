// The `ctl` verb of a daemon's command line (`vswitchd ctl`, `vmm ctl`): one request to the
// daemon's control socket from a shell, the reply printed as JSON. Exit status (ExitStatus):
// 0 the request succeeded, 1 the daemon refused it, 2 it never got there (usage error, no
// socket, no reply).
using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VSwitch.Common.Cli;

using VSwitch.Common.Sockets;

namespace VSwitch.Common.Control;

/// <summary>Whose socket a ctl verb talks to, and how its help names things.</summary>
/// <param name="Program">The command before "ctl" ("vswitchd").</param>
/// <param name="Daemon">What listens on the socket, in messages ("vswitchd", "the VMM").</param>
/// <param name="Ops">The ops, for --help, as one or more lines.</param>
/// <param name="SocketEnvironmentVariable">Where the socket path comes from without --socket, if anywhere.</param>
/// <param name="DefaultSocketPath">The socket without --socket or the variable; null makes --socket required.</param>
/// <param name="DefaultTimeout">How long to wait for a reply without --timeout.</param>
/// <param name="Tables">Per op that has one, how --table prints its reply for people.</param>
/// <param name="RequestTimeout">
/// Without --timeout, how long to wait for the reply to a request that takes longer than
/// <paramref name="DefaultTimeout"/> by design (vmm's stop waits for the guest); null for the default.
/// </param>
public sealed record ControlTarget(string Program, string Daemon, string Ops, string? SocketEnvironmentVariable, string? DefaultSocketPath, TimeSpan DefaultTimeout,
    IReadOnlyDictionary<string, Func<JsonObject, string>>? Tables = null, Func<JsonObject, TimeSpan?>? RequestTimeout = null);

public sealed partial class ControlCommand(ControlTarget target)
{
    private static readonly JsonSerializerOptions s_printOptions = new()
    {
        WriteIndented = true,
        // For a terminal: names and errors shown as they are, not as \u0022 escapes.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private string Name => $"{target.Program} ctl";

    private string Synopsis => $$"""
        usage: {{Name}} [--socket PATH] [--timeout SECONDS] [--table] <op> [key=value ...]
               {{Name}} [--socket PATH] [--timeout SECONDS] --json '{"op": ...}'
        see '{{Name}} --help'

        """;

    private string Description => $"""
        Sends one request to {target.Daemon}'s control socket and prints the reply as JSON.
        A key=value pair becomes a field of the request. A value that is a JSON number, array or
        object (mtu=1500, ipv4='["10.0.0.1"]') is sent as JSON, anything else as a string; quote
        it as JSON to force a string (name='"42"').
        ops: {target.Ops}
        exit status: 0 done, 1 refused by {target.Daemon}, 2 usage error or {target.Daemon} not reachable
        """;

    private string SocketHelp => (target.SocketEnvironmentVariable, target.DefaultSocketPath) switch
    {
        (null, null) => "the socket (required)",
        (null, { } path) => $"the socket (default: {path})",
        ({ } variable, null) => $"the socket (default: ${variable})",
        ({ } variable, { } path) => $"the socket (default: ${variable}, else {path})",
    };

    /// <summary>The options and arguments of a ctl verb, one set per parser.</summary>
    private sealed class Syntax(ControlCommand owner)
    {
        public readonly Option<string> Socket = new("--socket")
        {
            Description = owner.SocketHelp,
            HelpName = "PATH",
        };
        public readonly Option<string> Timeout = new("--timeout")
        {
            Description = $"how long to wait for the reply (default: {owner.DefaultTimeoutSeconds})",
            HelpName = "SECONDS",
        };
        public readonly Option<string> Json = new("--json")
        {
            Description = "the whole request, as one JSON object",
            HelpName = "JSON",
        };
        public readonly Option<bool> Table = new("--table")
        {
            Description = owner.TableHelp,
        };
        public readonly Argument<string[]> Words = new("request")
        {
            Description = "the op, then its fields as key=value",
            Arity = ArgumentArity.ZeroOrMore,
        };

        public Command Command()
        {
            var ctl = new Command("ctl", owner.Description) { Socket, Timeout, Json, Table, Words };
            return ctl;
        }
    }

    /// <summary>
    /// The <c>ctl</c> verb for the daemon's command line: its action sends the request and prints
    /// the reply to <paramref name="stdout"/> (<paramref name="stderr"/> for errors).
    /// </summary>
    public Command CreateCommand(TextWriter stdout, TextWriter stderr)
    {
        var syntax = new Syntax(this);
        Command ctl = syntax.Command();
        ctl.SetAction(async (parse, ct) =>
        {
            Invocation invocation;
            try
            {
                invocation = Read(syntax, parse, target.SocketEnvironmentVariable is { } variable ? Environment.GetEnvironmentVariable(variable) : null);
            }
            catch (UsageException ex)
            {
                return await UsageErrorAsync(stderr, ex.Message).ConfigureAwait(false);
            }
            return await SendAsync(invocation, stdout, stderr, ct).ConfigureAwait(false);
        });
        return ctl;
    }

    /// <summary>Runs the ctl verb; <paramref name="args"/> are the words after "ctl".</summary>
    public Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct = default) =>
        CommandLines.InvokeAsync(target.Program, new RootCommand { CreateCommand(stdout, stderr) }, ["ctl", .. args], stdout, stderr, ct);

    private async Task<int> UsageErrorAsync(TextWriter stderr, string message)
    {
        await stderr.WriteLineAsync($"{Name}: {message}").ConfigureAwait(false);
        await stderr.WriteAsync(Synopsis).ConfigureAwait(false);
        return ExitStatus.BadInput;
    }

    private async Task<int> SendAsync(Invocation invocation, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        string path = invocation.SocketPath;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(invocation.Timeout);
        ControlClient client;
        try
        {
            client = await ControlClient.ConnectAsync(path, deadline.Token).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            await stderr.WriteLineAsync($"{Name}: cannot connect to {path}: {ConnectFailure.Describe(path, target.Daemon, ex, ex.Message)}").ConfigureAwait(false);
            return ExitStatus.BadInput;
        }
        catch (ArgumentException ex)
        {
            // UnixDomainSocketEndPoint refuses a path over 107 bytes.
            await stderr.WriteLineAsync($"{Name}: cannot connect to {path}: {ex.Message}").ConfigureAwait(false);
            return ExitStatus.BadInput;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // A listener whose backlog is full: the daemon is alive but not accepting.
            await stderr.WriteLineAsync($"{Name}: cannot connect to {path}: no answer within {Seconds(invocation.Timeout)} s").ConfigureAwait(false);
            return ExitStatus.BadInput;
        }

        JsonObject reply;
        await using (client.ConfigureAwait(false))
        {
            try
            {
                reply = await client.RequestRawAsync(invocation.Request, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                await stderr.WriteLineAsync($"{Name}: no reply from {path} within {Seconds(invocation.Timeout)} s").ConfigureAwait(false);
                return ExitStatus.BadInput;
            }
            catch (Exception ex) when (ex is IOException or SocketException or ArgumentException)
            {
                await stderr.WriteLineAsync($"{Name}: request to {path} failed: {ex.Message}").ConfigureAwait(false);
                return ExitStatus.BadInput;
            }
        }

        bool ok = ControlClient.IsOk(reply);
        string printed = ok && invocation.Table is { } table ? table(reply) : reply.ToJsonString(s_printOptions);
        await stdout.WriteLineAsync(printed).ConfigureAwait(false);
        if (ok)
            return ExitStatus.Ok;
        string op = invocation.Request["op"] is JsonValue opValue && opValue.GetValueKind() == JsonValueKind.String ? opValue.GetValue<string>() : "request";
        await stderr.WriteLineAsync($"{Name}: {op}: {ControlClient.ErrorText(reply)}").ConfigureAwait(false);
        return ExitStatus.Failed;
    }

    /// <param name="Table">Prints a successful reply for people instead of as JSON (--table); null: JSON.</param>
    public sealed record Invocation(string SocketPath, JsonObject Request, TimeSpan Timeout, Func<JsonObject, string>? Table = null);

    public sealed class UsageException(string message) : Exception(message);

    /// <summary>Parses the words after "ctl" as the command line does.</summary>
    /// <param name="environmentSocket">The value of the target's socket variable, if set.</param>
    /// <exception cref="UsageException">The arguments do not make a request.</exception>
    public Invocation Parse(IReadOnlyList<string> args, string? environmentSocket)
    {
        var syntax = new Syntax(this);
        ParseResult parse = new RootCommand { syntax.Command() }.Parse(["ctl", .. args], CommandLines.Parsing);
        if (parse.Errors.Count > 0)
            throw new UsageException(parse.Errors[0].Message);
        return Read(syntax, parse, environmentSocket);
    }

    private Invocation Read(Syntax syntax, ParseResult parse, string? environmentSocket)
    {
        TimeSpan? timeout = null;
        if (parse.GetValue(syntax.Timeout) is { } seconds)
        {
            if (!double.TryParse(seconds, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value > 0 && value <= int.MaxValue / 1000))
                throw new UsageException($"--timeout takes a positive number of seconds, not \"{seconds}\"");
            timeout = TimeSpan.FromSeconds(value);
        }
        string socket = parse.GetValue(syntax.Socket) ?? (string.IsNullOrEmpty(environmentSocket) ? target.DefaultSocketPath : environmentSocket)
            ?? throw new UsageException("--socket: required; the path of " + target.Daemon + "'s socket");
        if (socket.Length == 0)
            throw new UsageException("--socket needs a path");
        List<string> words = [.. parse.GetValue(syntax.Words) ?? []];
        // An op or a key=value pair never starts with '-': such a word is an option misspelt.
        if (words.FirstOrDefault(w => w.StartsWith('-')) is { } unknown)
            throw new UsageException($"unknown option {unknown}");
        string? json = parse.GetValue(syntax.Json);
        JsonObject request = json is null ? RequestFromWords(words) : RequestFromJson(json, words);
        Func<JsonObject, string>? table = null;
        if (parse.GetValue(syntax.Table))
        {
            string op = request["op"] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : "";
            if (target.Tables?.GetValueOrDefault(op) is not { } print)
                throw new UsageException($"--table: op '{op}' has no table form ({TableOps})");
            table = print;
        }
        return new Invocation(socket, request, timeout ?? target.RequestTimeout?.Invoke(request) ?? target.DefaultTimeout, table);
    }

    private static JsonObject RequestFromJson(string json, List<string> words)
    {
        if (words.Count > 0)
            throw new UsageException($"--json is the whole request; unexpected \"{words[0]}\"");
        try
        {
            return JsonNode.Parse(json) as JsonObject ?? throw new UsageException("--json needs a JSON object");
        }
        catch (JsonException ex)
        {
            throw new UsageException($"--json is not valid JSON: {ex.Message}");
        }
    }

    private static JsonObject RequestFromWords(List<string> words)
    {
        if (words.Count == 0)
            throw new UsageException("no op given");
        var request = new JsonObject { ["op"] = words[0] };
        foreach (string pair in words.Skip(1))
        {
            int equals = pair.IndexOf('=');
            if (equals <= 0)
                throw new UsageException($"expected key=value after the op, not \"{pair}\"");
            string key = pair[..equals];
            if (key == "op")
                throw new UsageException("the op is the first word, not an op= field");
            if (request.ContainsKey(key))
                throw new UsageException($"{key} is given twice");
            request[key] = ParseValue(key, pair[(equals + 1)..]);
        }
        return request;
    }

    /// <summary>
    /// Types the value of a key=value pair: JSON if it starts like an array, object or string or
    /// is a JSON number, else the text as a string. Text starting with [ { " that does not parse
    /// is an error rather than a string, since it was surely meant as JSON.
    /// </summary>
    public static JsonNode? ParseValue(string key, string text)
    {
        if (!text.StartsWith('[') && !text.StartsWith('{') && !text.StartsWith('"') && !JsonNumber().IsMatch(text))
            return JsonValue.Create(text);
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException ex)
        {
            throw new UsageException($"{key}={text} looks like JSON but is not: {ex.Message}");
        }
    }

    /// <summary>RFC 8259 section 6: so 007, 1. and 0x10 stay strings.</summary>
    [GeneratedRegex(@"\A-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex JsonNumber();

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    private string DefaultTimeoutSeconds => Seconds(target.DefaultTimeout);

    private string TableOps => target.Tables is { Count: > 0 } tables ? $"ops with one: {string.Join(", ", tables.Keys)}" : "no op has one";

    private string TableHelp => $"print the reply as a table instead of JSON ({TableOps})";
}
