// What a port added at run time (the control socket's add-port) may ask DPDK for. The config
// file is root's and keeps full devargs; the socket is open to a group, and rte_dev_probe runs
// as root, so there a devargs string is a request to open, create or truncate files and attach
// interfaces with root's rights. Only what a VM port needs passes: an allow-list of drivers, of
// each driver's keys, and of where their files may be (docs/control-socket.md, "add-port").
// DPDK's devargs grammar: "<driver><suffix>,key=value,..." (rte_devargs_parse, rte_kvargs).
using System.Collections.Immutable;
using System.Text.RegularExpressions;
using VSwitch.Dataplane.Spec;

namespace VSwitch.Dataplane.Ports;

/// <param name="PcapDir">The directory (and its subdirectories) net_pcap's rx_pcap/tx_pcap files must be in.</param>
/// <param name="VhostDir">The directory (and its subdirectories) vhost-user sockets (vhost_user.socket, net_vhost's iface) must be in.</param>
public sealed partial record RuntimePortPolicy(string PcapDir, string VhostDir)
{
    public const string DefaultPcapDir = "/var/lib/vswitchd/pcap";
    public const string DefaultVhostDir = "/run/vswitchd/vhost";

    public static RuntimePortPolicy Default { get; } = new(DefaultPcapDir, DefaultVhostDir);

    /// <summary>Linux follows at most 40 symlinks in one lookup (ELOOP); so does the walk here.</summary>
    private const int MaxSymlinkHops = 40;

    private enum ValueKind { Number, Flag, Interface, PcapFile, VhostSocket }

    // Keys each driver takes in DPDK 23.11, less those that reach outside the VM's port:
    // net_pcap's iface/rx_iface/rx_iface_in/tx_iface capture or inject on a host interface.
    private static readonly ImmutableDictionary<string, ImmutableDictionary<string, ValueKind>> s_drivers =
        new Dictionary<string, ImmutableDictionary<string, ValueKind>>
        {
            ["net_null"] = Keys(("size", ValueKind.Number), ("copy", ValueKind.Flag), ("no-rx", ValueKind.Flag)),
            ["net_af_packet"] = Keys(("iface", ValueKind.Interface), ("qpairs", ValueKind.Number), ("blocksz", ValueKind.Number),
                ("framesz", ValueKind.Number), ("framecnt", ValueKind.Number), ("qdisc_bypass", ValueKind.Flag)),
            ["net_pcap"] = Keys(("rx_pcap", ValueKind.PcapFile), ("tx_pcap", ValueKind.PcapFile), ("infinite_rx", ValueKind.Flag)),
            ["net_vhost"] = Keys(("iface", ValueKind.VhostSocket), ("queues", ValueKind.Number), ("client", ValueKind.Flag)),
        }.ToImmutableDictionary(StringComparer.Ordinal);

    /// <summary>Keys net_pcap takes once per queue; every other key may appear once.</summary>
    private static readonly ImmutableHashSet<string> s_repeatable = ["rx_pcap", "tx_pcap"];

    /// <summary>Keys that name a host interface in any driver's devargs, for the interfaces ports already hold.</summary>
    private static readonly ImmutableHashSet<string> s_interfaceKeys = ["iface", "rx_iface", "rx_iface_in", "tx_iface"];

    /// <summary>
    /// Checks <paramref name="port"/>'s devargs against the allow-list; <paramref name="spec"/>
    /// is the running switch, whose ports' interfaces (the uplink's among them) are not
    /// available. Returns the devargs to probe, with every file path resolved to its real
    /// location, so no symlink in a parent directory is followed again after the check.
    /// </summary>
    /// <exception cref="PortPolicyException">The devargs ask for something a run-time port may not have; the message names the key.</exception>
    public string Check(PortSpec port, SwitchSpec spec)
    {
        string[] parts = port.Devargs.Split(',');
        Match device = DeviceName().Match(parts[0]);
        if (!device.Success || !s_drivers.TryGetValue(device.Groups["driver"].Value, out ImmutableDictionary<string, ValueKind>? keys))
        {
            throw new PortPolicyException($"devargs: '{parts[0]}' is not allowed over the control socket " +
                $"(expected one of {string.Join(", ", s_drivers.Keys.Order().Select(d => d + "N"))}; other devices go in the config file)");
        }
        string driver = device.Groups["driver"].Value;

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var checkedParts = new List<string>(parts.Length) { parts[0] };
        for (int i = 1; i < parts.Length; i++)
        {
            string[] pair = parts[i].Split('=', 2);
            string key = pair[0];
            if (pair.Length != 2)
                throw new PortPolicyException($"devargs: '{parts[i]}' is not key=value");
            if (!keys.TryGetValue(key, out ValueKind kind))
                throw new PortPolicyException($"devargs: {driver} key '{key}' is not allowed over the control socket (allowed: {string.Join(", ", keys.Keys.Order())})");
            if (!seen.Add(key) && !s_repeatable.Contains(key))
                throw new PortPolicyException($"devargs: {key} is given twice");
            checkedParts.Add($"{key}={CheckValue(key, pair[1], kind, spec)}");
        }
        if (driver is "net_af_packet" or "net_vhost" && !seen.Contains("iface"))
            throw new PortPolicyException($"devargs: {driver} needs iface=");
        return string.Join(',', checkedParts);
    }

    /// <summary>
    /// A vhost_user port's socket, which must lie in <see cref="VhostDir"/> as net_vhost's iface
    /// must: returned with every symlink of its directory resolved.
    /// </summary>
    /// <exception cref="PortPolicyException">The socket is elsewhere; the message names vhost_user.socket.</exception>
    public string CheckVhostSocket(string socket) => InDirectory("vhost_user.socket", socket, VhostDir, "control.vhost_dir");

    private string CheckValue(string key, string value, ValueKind kind, SwitchSpec spec)
    {
        switch (kind)
        {
            case ValueKind.Number when Number().IsMatch(value):
            case ValueKind.Flag when value is "0" or "1":
                return value;
            case ValueKind.Number:
                throw new PortPolicyException($"devargs: {key}: '{value}' is not a number (1 to 7 decimal digits)");
            case ValueKind.Flag:
                throw new PortPolicyException($"devargs: {key}: '{value}' is not 0 or 1");
            case ValueKind.Interface:
                return CheckInterface(key, value, spec);
            case ValueKind.PcapFile:
                return InDirectory($"devargs: {key}", value, PcapDir, "control.pcap_dir");
            default:
                return InDirectory($"devargs: {key}", value, VhostDir, "control.vhost_dir");
        }
    }

    private static string CheckInterface(string key, string name, SwitchSpec spec)
    {
        // dev_valid_name (net/core/dev.c) allows more; a VM port's interface needs no more than this.
        if (!InterfaceName().IsMatch(name) || name is "." or "..")
            throw new PortPolicyException($"devargs: {key}: '{name}' is not an interface name (1 to 15 of a-z A-Z 0-9 _ . -)");
        foreach (PortSpec other in spec.Ports)
        {
            if (InterfacesOf(other.Devargs).Contains(name))
            {
                string what = other.Role == PortRole.Uplink ? "the interface of the uplink," : "already the interface of";
                throw new PortPolicyException($"devargs: {key}: '{name}' is {what} port '{other.Name}'");
            }
        }
        return name;
    }

    private static IEnumerable<string> InterfacesOf(string devargs) =>
        devargs.Split(',').Skip(1).Select(p => p.Split('=', 2)).Where(p => p.Length == 2 && s_interfaceKeys.Contains(p[0])).Select(p => p[1]);

    /// <summary>
    /// <paramref name="path"/> with every symlink resolved, if it lies in <paramref name="directory"/>
    /// (itself resolved). The last component must not be a symlink: DPDK opens it, following one,
    /// and tx_pcap truncates what it opens.
    /// </summary>
    private static string InDirectory(string key, string path, string directory, string field)
    {
        if (!Path.IsPathRooted(path))
            throw new PortPolicyException($"{key}: '{path}' is not an absolute path");
        if (path.Split('/').Any(component => component is ".." or "."))
            throw new PortPolicyException($"{key}: '{path}' has a '.' or '..' component");
        if (path.Any(char.IsControl) || path.IndexOfAny(['[', ']']) >= 0)
            throw new PortPolicyException($"{key}: '{path}' has a control character or a bracket");
        string name = Path.GetFileName(path);
        if (name.Length == 0)
            throw new PortPolicyException($"{key}: '{path}' names a directory, not a file");
        string? parent = Resolve(Path.GetDirectoryName(path)!);
        string root = Resolve(directory) ?? Path.TrimEndingDirectorySeparator(directory);
        if (parent is null || !(parent == root || parent.StartsWith(root + "/", StringComparison.Ordinal)))
            throw new PortPolicyException($"{key}: '{path}' is not in {root} ({field})");
        string resolved = Path.Join(parent, name);
        if (new FileInfo(resolved).LinkTarget is not null)
            throw new PortPolicyException($"{key}: '{path}' is a symbolic link");
        return resolved;
    }

    /// <summary>realpath(3) of an existing directory, walked component by component; null if a component is missing.</summary>
    private static string? Resolve(string path)
    {
        var pending = new Stack<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        string current = "/";
        int hops = 0;
        while (pending.TryPop(out string? component))
        {
            if (component == ".")
                continue;
            if (component == "..")
            {
                current = Path.GetDirectoryName(current) ?? "/";
                continue;
            }
            string next = Path.Join(current, component);
            var info = new FileInfo(next);
            if (info.LinkTarget is string target)
            {
                if (++hops > MaxSymlinkHops)
                    return null;
                if (Path.IsPathRooted(target))
                    current = "/";
                foreach (string part in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
                    pending.Push(part);
                continue;
            }
            if (!Directory.Exists(next) && pending.Count > 0)
                return null;
            current = next;
        }
        return Directory.Exists(current) ? current : null;
    }

    private static ImmutableDictionary<string, ValueKind> Keys(params (string Key, ValueKind Kind)[] keys) =>
        keys.ToImmutableDictionary(k => k.Key, k => k.Kind, StringComparer.Ordinal);

    [GeneratedRegex("^(?<driver>net_null|net_af_packet|net_pcap|net_vhost)[0-9]{1,3}$")]
    private static partial Regex DeviceName();

    [GeneratedRegex("^[0-9]{1,7}$")]
    private static partial Regex Number();

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,15}$")]
    private static partial Regex InterfaceName();
}

/// <summary>A run-time port's devargs ask for more than <see cref="RuntimePortPolicy"/> allows.</summary>
public sealed class PortPolicyException(string message) : Exception(message);
