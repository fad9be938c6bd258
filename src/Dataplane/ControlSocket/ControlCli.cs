// `vswitchd ctl`: one request to a running vswitchd from a shell, the reply printed as JSON.
// Exit status: 0 the request succeeded, 1 vswitchd refused it, 2 it never got there (usage error,
// no socket, no reply).
using System.Globalization;
using System.Net.Sockets;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace VSwitch.Dataplane.ControlSocket;

public static partial class ControlCli
{
    public const string SocketEnvironmentVariable = "VSWITCHD_SOCKET";
    public const string DefaultSocketPath = "/run/vswitchd/vswitchd.sock";

    public const int ExitOk = 0;
    public const int ExitRefused = 1;
    public const int ExitUsage = 2;

    /// <summary>Long enough for add-port, which probes and starts a DPDK device.</summary>
    private static readonly TimeSpan s_defaultTimeout = TimeSpan.FromSeconds(30);

    private static readonly JsonSerializerOptions s_printOptions = new()
    {
        WriteIndented = true,
        // For a terminal: names and errors shown as they are, not as \u0022 escapes.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private const string Usage = """
        usage: vswitchd ctl [--socket PATH] [--timeout SECONDS] <op> [key=value ...]
               vswitchd ctl [--socket PATH] [--timeout SECONDS] --json '{"op": ...}'

        Sends one request to vswitchd's control socket and prints the reply as JSON.
          --socket PATH      the socket (default: $VSWITCHD_SOCKET, else /run/vswitchd/vswitchd.sock)
          --timeout SECONDS  how long to wait for the reply (default: 30)
          --json JSON        the whole request, as one JSON object
        A key=value pair becomes a field of the request. A value that is a JSON number, array or
        object (mtu=1500, ipv4='["10.0.0.1"]') is sent as JSON, anything else as a string; quote
        it as JSON to force a string (name='"42"').
        ops: status counters list neighbours add-port remove-port add-vm remove-vm
             add-remote-vm remove-remote-vm shutdown
             (fields: docs/control-socket.md)
        exit status: 0 done, 1 refused by vswitchd, 2 usage error or vswitchd not reachable

        """;

    /// <summary>Runs <c>vswitchd ctl</c>; <paramref name="args"/> are the words after "ctl".</summary>
    public static Task<int> RunAsync(string[] args) => RunAsync(args, Console.Out, Console.Error);

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        Invocation invocation;
        try
        {
            invocation = Parse(args, Environment.GetEnvironmentVariable(SocketEnvironmentVariable));
        }
        catch (UsageException ex)
        {
            await stderr.WriteLineAsync($"vswitchd ctl: {ex.Message}").ConfigureAwait(false);
            await stderr.WriteAsync(Usage).ConfigureAwait(false);
            return ExitUsage;
        }
        if (invocation.Help)
        {
            await stdout.WriteAsync(Usage).ConfigureAwait(false);
            return ExitOk;
        }

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
            await stderr.WriteLineAsync($"vswitchd ctl: cannot connect to {path}: {DescribeConnectError(path, ex)}").ConfigureAwait(false);
            return ExitUsage;
        }
        catch (ArgumentException ex)
        {
            // UnixDomainSocketEndPoint refuses a path over 107 bytes.
            await stderr.WriteLineAsync($"vswitchd ctl: cannot connect to {path}: {ex.Message}").ConfigureAwait(false);
            return ExitUsage;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // A listener whose backlog is full: vswitchd is alive but not accepting.
            await stderr.WriteLineAsync($"vswitchd ctl: cannot connect to {path}: no answer within {Seconds(invocation.Timeout)} s").ConfigureAwait(false);
            return ExitUsage;
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
                await stderr.WriteLineAsync($"vswitchd ctl: no reply from {path} within {Seconds(invocation.Timeout)} s").ConfigureAwait(false);
                return ExitUsage;
            }
            catch (Exception ex) when (ex is IOException or SocketException or ArgumentException)
            {
                await stderr.WriteLineAsync($"vswitchd ctl: request to {path} failed: {ex.Message}").ConfigureAwait(false);
                return ExitUsage;
            }
        }

        await stdout.WriteLineAsync(reply.ToJsonString(s_printOptions)).ConfigureAwait(false);
        if (ControlClient.IsOk(reply))
            return ExitOk;
        string op = invocation.Request["op"] is JsonValue opValue && opValue.GetValueKind() == JsonValueKind.String ? opValue.GetValue<string>() : "request";
        await stderr.WriteLineAsync($"vswitchd ctl: {op}: {ControlClient.ErrorText(reply)}").ConfigureAwait(false);
        return ExitRefused;
    }

    internal sealed record Invocation(string SocketPath, JsonObject Request, TimeSpan Timeout, bool Help = false);

    internal sealed class UsageException(string message) : Exception(message);

    /// <param name="environmentSocket">The value of VSWITCHD_SOCKET, if set.</param>
    /// <exception cref="UsageException">The arguments do not make a request.</exception>
    internal static Invocation Parse(IReadOnlyList<string> args, string? environmentSocket)
    {
        string? socket = null;
        string? json = null;
        TimeSpan timeout = s_defaultTimeout;
        var words = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            string? inlineValue = null;
            int equals = name.IndexOf('=');
            if (name.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                inlineValue = name[(equals + 1)..];
                name = name[..equals];
            }
            switch (name)
            {
                case "-h" or "--help":
                    return new Invocation("", [], timeout, Help: true);
                case "--socket":
                    socket = OptionValue(args, ref i, name, inlineValue);
                    break;
                case "--json":
                    json = OptionValue(args, ref i, name, inlineValue);
                    break;
                case "--timeout":
                    string seconds = OptionValue(args, ref i, name, inlineValue);
                    if (!double.TryParse(seconds, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value > 0 && value <= int.MaxValue / 1000))
                        throw new UsageException($"--timeout takes a positive number of seconds, not \"{seconds}\"");
                    timeout = TimeSpan.FromSeconds(value);
                    break;
                case ['-', ..]:
                    throw new UsageException($"unknown option {name}");
                default:
                    words.Add(args[i]);
                    break;
            }
        }

        socket ??= string.IsNullOrEmpty(environmentSocket) ? DefaultSocketPath : environmentSocket;
        if (socket.Length == 0)
            throw new UsageException("--socket needs a path");
        JsonObject request = json is null ? RequestFromWords(words) : RequestFromJson(json, words);
        return new Invocation(socket, request, timeout);
    }

    private static string OptionValue(IReadOnlyList<string> args, ref int i, string name, string? inlineValue)
    {
        if (inlineValue is not null)
            return inlineValue;
        if (i + 1 >= args.Count)
            throw new UsageException($"{name} needs a value");
        return args[++i];
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
    internal static JsonNode? ParseValue(string key, string text)
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

    private static string DescribeConnectError(string path, SocketException ex)
    {
        // .NET reports ENOENT on a Unix socket path as AddressNotAvailable ("Cannot assign
        // requested address"), which would send the operator looking in the wrong place.
        if (!Path.Exists(path))
            return "No such file or directory — is vswitchd running?";
        return ex.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "Connection refused — is vswitchd running?",
            SocketError.AccessDenied => "Permission denied — run as root or as a member of the socket's group",
            _ => ex.Message,
        };
    }
}
