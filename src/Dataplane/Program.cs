// vswitchd: the VSwitch dataplane.
//   vswitchd run --config FILE [--offline]     run the switch (offline: until every rx_pcap is drained)
//   vswitchd check-config FILE                 validate a configuration and exit
//   vswitchd ctl [--socket PATH] OP [k=v ...]  talk to a running vswitchd (docs/control-socket.md)
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.ControlSocket;
using VSwitch.Dataplane.Daemon;

const string Usage = """
    usage: vswitchd run --config FILE [--offline]
           vswitchd check-config FILE
           vswitchd ctl [--socket PATH] OP [key=value ...]
    """;

if (args.Length == 0)
{
    Console.Error.WriteLine(Usage);
    return 2;
}

try
{
    switch (args[0])
    {
        case "run":
        {
            string? configPath = null;
            bool offline = false;
            for (int i = 1; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--config" when i + 1 < args.Length:
                        configPath = args[++i];
                        break;
                    case "--offline":
                        offline = true;
                        break;
                    default:
                        Console.Error.WriteLine($"vswitchd run: unexpected argument '{args[i]}'\n{Usage}");
                        return 2;
                }
            }
            if (configPath is null)
            {
                Console.Error.WriteLine($"vswitchd run: --config FILE is required\n{Usage}");
                return 2;
            }
            return await Vswitchd.RunAsync(ConfigLoader.Load(configPath), offline);
        }
        case "check-config" when args.Length == 2:
            DaemonConfig config = ConfigLoader.Load(args[1]);
            Console.WriteLine($"{args[1]}: ok ({config.Spec.Tenants.Length} tenant(s), {config.Spec.Vms.Length} VM(s), {config.Spec.Ports.Length} port(s))");
            return 0;
        case "ctl":
            return await ControlCli.RunAsync(args[1..]);
        default:
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
catch (ConfigException e)
{
    Console.Error.WriteLine($"vswitchd: bad configuration:\n{e.Message}");
    return 2;
}
catch (Exception e) when (e is InvalidOperationException or VSwitch.Dataplane.Ports.PortSetupException or InvalidDataException or TimeoutException)
{
    Console.Error.WriteLine($"vswitchd: {e.Message}");
    return 1;
}
