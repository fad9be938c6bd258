// The configuration file as vswitchd reads it at start-up: text -> tree -> fields -> spec ->
// validator (ConfigLoader.Parse), then the tables are compiled from the spec it accepted. The
// input is the file's bytes.
using System.Text;
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Fuzz.Targets;

public static class ConfigTarget
{
    public static void RunYaml(ReadOnlySpan<byte> input) => Run(input, ConfigFormat.Yaml);

    public static void RunJson(ReadOnlySpan<byte> input) => Run(input, ConfigFormat.Json);

    private static void Run(ReadOnlySpan<byte> input, ConfigFormat format)
    {
        // File.ReadAllText's decoding: invalid UTF-8 becomes U+FFFD, never an exception.
        string text = Encoding.UTF8.GetString(input);
        DaemonConfig config;
        try
        {
            config = ConfigLoader.Parse(text, format);
        }
        catch (ConfigException e)
        {
            // The documented failure: every problem, each a non-empty line naming what is wrong.
            Invariants.Check(e.Errors.Count > 0 && e.Errors.All(line => !string.IsNullOrWhiteSpace(line)), "a ConfigException without an error line");
            return;
        }
        // Accepted: the daemon attaches every port (ids in order) and compiles the tables.
        var ids = new Dictionary<string, ushort>();
        foreach (PortSpec port in config.Spec.Ports)
            ids[port.Name] = (ushort)ids.Count;
        Invariants.Check(ids.Count <= SwitchTables.MaxPorts, $"{ids.Count} ports accepted, more than DPDK's {SwitchTables.MaxPorts}");
        SwitchTables.Build(config.Spec, ids, workerCount: 1);
    }
}
