// `vswitchd ctl`: the shared ctl verb (Common/Control/ControlCommand) aimed at vswitchd's socket.
using System.CommandLine;
using System.Text.Json.Nodes;
using VSwitch.Common.Cli;
using VSwitch.Common.Control;

namespace VSwitch.Dataplane.Cli;

public static class ControlCli
{
    public const string SocketEnvironmentVariable = "VSWITCHD_SOCKET";
    public const string DefaultSocketPath = "/run/vswitchd/vswitchd.sock";

    public const int ExitOk = ExitStatus.Ok;
    public const int ExitRefused = ExitStatus.Failed;
    public const int ExitUsage = ExitStatus.BadInput;

    private static readonly ControlCommand s_command = new(new ControlTarget(
        Program: "vswitchd",
        Daemon: "vswitchd",
        Ops: """
            status counters list neighbours flows add-port remove-port add-vm remove-vm
                 add-remote-vm remove-remote-vm shutdown (fields: docs/control-socket.md)
            """,
        SocketEnvironmentVariable,
        DefaultSocketPath,
        // Long enough for add-port, which probes and starts a DPDK device.
        DefaultTimeout: TimeSpan.FromSeconds(30),
        Tables: new Dictionary<string, Func<JsonObject, string>> { ["flows"] = FlowsTable.Format }));

    internal static Command CreateCommand(TextWriter stdout, TextWriter stderr) => s_command.CreateCommand(stdout, stderr);

    /// <summary>Runs <c>vswitchd ctl</c>; <paramref name="args"/> are the words after "ctl".</summary>
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct = default) =>
        s_command.RunAsync(args, stdout, stderr, ct);

    /// <summary>Parses the words after "ctl" as the command line does.</summary>
    /// <exception cref="ControlCommand.UsageException">The arguments do not make a request.</exception>
    internal static ControlCommand.Invocation Parse(IReadOnlyList<string> args, string? environmentSocket) => s_command.Parse(args, environmentSocket);

    internal static JsonNode? ParseValue(string key, string text) => ControlCommand.ParseValue(key, text);
}
