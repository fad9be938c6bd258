// The vswitch-agent program's command line (docs/agent.md, "Running it"):
//   vswitch-agent run [--socket PATH] [--state PATH] [--group NAME] [--cpus N] [--memory-mib N] [--vcpu-overcommit X]
//                     [--host-settings FILE] [--metrics-listen ADDR:PORT]
// Exit status as every VSwitch program's (Common/Cli/ExitStatus.cs): 0 stopped by SIGTERM or
// SIGINT, 1 failed while running, 2 bad input: an option out of range, a socket another agent
// listens on, a state file it cannot use, a host settings file it cannot run with.
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text;
using VSwitch.Common.Cli;
using VSwitch.Common.Sockets;
using VSwitch.Control.Agent.Http;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Cli;

public static class AgentCommandLine
{
    public const string Program = "vswitch-agent";
    public const string DefaultState = "/var/lib/vswitch/agent.db";
    public const double DefaultVcpuOvercommit = 4.0;
    /// <summary>Beyond any host the agent will run on; a typo (40960 for 4096) is caught.</summary>
    public const int MaxCpus = 4096;
    public const double MaxVcpuOvercommit = 64;

    public static Task<int> InvokeAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        var socket = new Option<string>("--socket")
        {
            Description = "the API's Unix socket", HelpName = "PATH", DefaultValueFactory = _ => AgentClient.DefaultSocket,
        };
        Check(socket, path => Encoding.UTF8.GetByteCount(path) <= SocketPath.MaxPathBytes ? null
            : $"'{path}' is {Encoding.UTF8.GetByteCount(path)} bytes long; a Unix socket path holds at most {SocketPath.MaxPathBytes}");
        var state = new Option<string>("--state")
        {
            Description = "the SQLite file of the desired state (created if missing)", HelpName = "PATH", DefaultValueFactory = _ => DefaultState,
        };
        Check(state, path => path.Length > 0 ? null : "must not be empty");
        var group = new Option<string>("--group")
        {
            Description = "a group (name or gid) whose members may use the socket, besides root and the agent's user; it owns the socket file",
            HelpName = "NAME",
        };
        Check(group, name => GroupDatabase.Gid(name) is null ? $"'{name}' is neither a gid nor a group in {GroupDatabase.GroupFile}" : null);
        var cpus = new Option<int>("--cpus")
        {
            Description = "host CPUs for VMs' vCPUs (default: every CPU of the host)", HelpName = "N", DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        Check(cpus, n => n is >= 1 and <= MaxCpus ? null : $"{n} is out of range 1..{MaxCpus}");
        var memory = new Option<long?>("--memory-mib")
        {
            Description = $"memory for VMs, never overcommitted (default: MemTotal of /proc/meminfo less max({HostMemory.MinReserveMib} MiB, {HostMemory.ReservePercent} %))",
            HelpName = "N",
        };
        Check(memory, n => n >= 1 ? null : $"{n} is below 1");
        var overcommit = new Option<double>("--vcpu-overcommit")
        {
            Description = "vCPUs per host CPU that VMs may have in all", HelpName = "X", DefaultValueFactory = _ => DefaultVcpuOvercommit,
        };
        Check(overcommit, x => x is >= 1 and <= MaxVcpuOvercommit ? null : $"{x} is out of range 1..{MaxVcpuOvercommit}");

        var hostSettings = new Option<string>("--host-settings")
        {
            Description = "a JSON file of the host's settings (docs/agent.md, \"--host-settings\"): with it, the agent keeps vswitchd running and serving the desired state; without, it only stores the state",
            HelpName = "FILE",
        };

        var metricsListen = new Option<string>("--metrics-listen")
        {
            Description = "also serve GET /metrics (and nothing else) over TCP on this address, for Prometheus: 127.0.0.1:9464, [::1]:9464 (default: /metrics on the socket only)",
            HelpName = "ADDR:PORT",
        };
        Check(metricsListen, text => MetricsEndpoint(text) is null ? $"'{text}' is not an IP address and port (127.0.0.1:9464, [::1]:9464)" : null);

        var run = new Command("run", "Serve the desired state's API on the socket until SIGTERM or SIGINT")
        {
            socket, state, group, cpus, memory, overcommit, hostSettings, metricsListen,
        };
        run.SetAction(async (parse, cancel) =>
        {
            ReconcileSettings? reconcile = null;
            if (parse.GetValue(hostSettings) is { } file)
            {
                try
                {
                    reconcile = HostSettingsFile.Load(file);
                }
                catch (HostSettingsException e)
                {
                    await stderr.WriteLineAsync($"{Program}: {hostSettings.Name} {file}: {e.Message}").ConfigureAwait(false);
                    return ExitStatus.BadInput;
                }
            }
            try
            {
                long memoryMib = parse.GetValue(memory) ?? HostMemory.ForVms(HostMemory.TotalMib());
                var settings = new AgentSettings(
                    parse.GetRequiredValue(socket),
                    parse.GetRequiredValue(state),
                    parse.GetValue(group) is { } name ? GroupDatabase.Gid(name) : null,
                    new HostResources(parse.GetValue(cpus), memoryMib, parse.GetValue(overcommit)),
                    reconcile,
                    parse.GetValue(metricsListen) is { } listen ? MetricsEndpoint(listen) : null);
                await AgentServer.RunAsync(settings, cancel).ConfigureAwait(false);
                return ExitStatus.Ok;
            }
            catch (AgentStartException e)
            {
                await stderr.WriteLineAsync($"{Program}: {e.Message}").ConfigureAwait(false);
                return ExitStatus.BadInput;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                await stderr.WriteLineAsync($"{Program}: {e.Message}").ConfigureAwait(false);
                return ExitStatus.Failed;
            }
        });

        var root = new RootCommand("vswitch-agent: the VSwitch host agent; keeps the host's desired state (tenants, VMs, volumes, remote hosts), serves it as an HTTP API on a Unix socket and, with --host-settings, keeps vswitchd serving it")
        {
            run,
        };
        return CommandLines.InvokeAsync(Program, root, args, stdout, stderr, ct);
    }

    /// <summary>An IP address with a port of 1..65535 ("127.0.0.1:9464", "[::1]:9464"), or null.</summary>
    internal static System.Net.IPEndPoint? MetricsEndpoint(string text) =>
        System.Net.IPEndPoint.TryParse(text, out System.Net.IPEndPoint? endpoint) && endpoint.Port > 0 ? endpoint : null;

    /// <summary>A usage error (exit 2) "--option: why" when <paramref name="why"/> has something against the option's value.</summary>
    private static void Check<T>(Option<T> option, Func<T, string?> why) =>
        option.Validators.Add(result =>
        {
            T? value;
            try
            {
                value = result.GetValueOrDefault<T>();
            }
            catch (InvalidOperationException)
            {
                return; // Not a T at all ("--cpus many"): System.CommandLine reports that itself, naming the option.
            }
            if (value is not null && why(value) is { } problem)
                result.AddError($"{option.Name}: {problem}");
        });
}
