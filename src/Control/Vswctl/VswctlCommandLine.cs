// vswctl's command line (docs/vswctl.md): a verb per kind of resource of the host agent's API
// (tenant, volume, host, remote-vm, vm: create, list, show, delete) and `capacity`, each one request or two
// to the agent's socket. It runs as every VSwitch program does (Common/Cli/CommandLines.cs):
// usage errors exit 2 naming the verb, --help on every verb.
using VSwitch.Common.Cli;

namespace VSwitch.Control.Vswctl;

internal static class VswctlCommandLine
{
    public const string Program = "vswctl";
    public const string SocketEnvironmentVariable = "VSWITCH_AGENT_SOCKET";

    /// <param name="connect">Makes the client for a socket path: AgentConnection.Open, or a fake in tests.</param>
    /// <param name="environmentSocket">The value of $VSWITCH_AGENT_SOCKET, if set.</param>
    public static Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, Func<string, IAgentCalls> connect,
        string? environmentSocket, CancellationToken ct = default)
    {
        var options = new GlobalOptions();
        var verbs = new AgentVerbs(options, stdout, stderr, connect, environmentSocket);
        var root = new System.CommandLine.RootCommand("vswctl: manage the host agent's tenants, VMs, volumes, remote hosts and remote VMs (docs/vswctl.md)")
        {
            options.Socket, options.Output,
            Kinds.Tenant(verbs), Kinds.Vm(verbs), Kinds.Volume(verbs), Kinds.Host(verbs), Kinds.RemoteVm(verbs), Kinds.Capacity(verbs),
        };
        return CommandLines.InvokeAsync(Program, root, args, stdout, stderr, ct);
    }
}
