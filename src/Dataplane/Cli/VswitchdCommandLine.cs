// The vswitchd program's command line (README, docs/configuration.md, docs/control-socket.md):
//   vswitchd run --config FILE [--offline]   run the switch (offline: until every rx_pcap is drained)
//   vswitchd check-config FILE               validate a configuration and exit
//   vswitchd ctl [--socket PATH] OP [k=v ...] one request to a running vswitchd
// Exit status as every VSwitch program's (Common/Cli/ExitStatus.cs): 0 done, 1 failed while
// running (ctl: refused by vswitchd), 2 bad input (usage, configuration, vswitchd not reachable).
using System.CommandLine;
using VSwitch.Common.Cli;
using VSwitch.Dataplane.Config;
using VSwitch.Common.Control;
using VSwitch.Dataplane.Cli;
using VSwitch.Dataplane.Daemon;
using VSwitch.Dataplane.Ports;

namespace VSwitch.Dataplane.Cli;

public static class VswitchdCommandLine
{
    public const string Program = "vswitchd";

    public static Task<int> InvokeAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        var config = new Option<string>("--config") { Description = "the configuration file (YAML or JSON; docs/configuration.md)", HelpName = "FILE", Required = true };
        var offline = new Option<bool>("--offline") { Description = "pcap regression mode: stop once every rx_pcap input is drained" };
        var run = new Command("run", "Run the switch until SIGTERM, SIGINT or the control socket's shutdown") { config, offline };
        run.SetAction((parse, _) => Guard(stderr, () => Vswitchd.RunAsync(ConfigLoader.Load(parse.GetRequiredValue(config)), parse.GetValue(offline))));

        var file = new Argument<string>("FILE") { Description = "the configuration file" };
        var checkConfig = new Command("check-config", "Validate a configuration file and exit") { file };
        checkConfig.SetAction((parse, _) => Guard(stderr, () =>
        {
            string path = parse.GetRequiredValue(file);
            DaemonConfig loaded = ConfigLoader.Load(path);
            stdout.WriteLine($"{path}: ok ({loaded.Spec.Tenants.Length} tenant(s), {loaded.Spec.Vms.Length} VM(s), {loaded.Spec.Ports.Length} port(s))");
            return Task.FromResult(ExitStatus.Ok);
        }));

        var root = new RootCommand("vswitchd: the VSwitch dataplane, a poll-mode DPDK switch")
        {
            run, checkConfig, ControlCli.CreateCommand(stdout, stderr),
        };
        return CommandLines.InvokeAsync(Program, root, args, stdout, stderr, ct);
    }

    /// <summary>Bad configuration is bad input (2); a failure setting up or running the dataplane is 1.</summary>
    private static async Task<int> Guard(TextWriter stderr, Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (ConfigException e)
        {
            await stderr.WriteLineAsync($"{Program}: bad configuration:\n{e.Message}").ConfigureAwait(false);
            return ExitStatus.BadInput;
        }
        catch (Exception e) when (e is InvalidOperationException or PortSetupException or InvalidDataException or TimeoutException or Metrics.MetricsEndpointException)
        {
            await stderr.WriteLineAsync($"{Program}: {e.Message}").ConfigureAwait(false);
            return ExitStatus.Failed;
        }
    }
}
