// The names and the scratch folder of one run of a topology test. Every namespace, root-namespace
// link and DPDK --file-prefix of a run starts with its prefix (a stem of three letters and five hex
// digits: with a suffix, still within the 15 characters of an interface name), and its folder
// <root>/<prefix> holds its owner's pid beside the configs, captures and logs. A new run first
// removes what dead runs of the same test left behind (processes started from their folders,
// namespaces, links, DPDK runtime files) and never touches a live run's; a failed run keeps its
// folder for a post-mortem.
using System.Text.RegularExpressions;

namespace VSwitch.Tests.Integration.Infrastructure;

public sealed class TopologyWorkspace
{
    private const string OwnerFile = "owner.pid";
    /// <summary>A folder with this file holds a failed run's captures; cleanup of leftovers keeps it.</summary>
    private const string KeepFile = "KEEP";
    private const string DpdkRuntime = "/var/run/dpdk";

    private readonly string _root;
    private readonly Regex _prefix;
    private bool _keep;

    /// <param name="root">Where runs of this test keep their folders, e.g. /tmp/vswitch-systest.</param>
    /// <param name="stem">Three letters that start every prefix of this test and no other's.</param>
    public TopologyWorkspace(string root, string stem)
    {
        _root = root;
        _prefix = new Regex($"^{stem}[0-9a-f]{{5}}");
        Prefix = $"{stem}{Random.Shared.Next(0x100000):x5}";
    }

    public string Prefix { get; }
    public string WorkDir => Path.Combine(_root, Prefix);

    public string PathOf(string file) => Path.Combine(WorkDir, file);

    /// <summary>Keep this run's folder (called by a failing test).</summary>
    public void Keep() => _keep = true;

    /// <summary>Removes dead runs' leftovers, then claims this run's folder: from here on a concurrent run sees this prefix as live.</summary>
    public async Task ClaimAsync(Action<string> log)
    {
        foreach (string prefix in await PrefixesInUseAsync())
        {
            if (IsLive(Path.Combine(_root, prefix)))
                continue;
            await RemoveRunAsync(prefix, keepFolder: false);
            log($"removed what an earlier, dead run left behind (prefix {prefix})");
        }
        Directory.CreateDirectory(WorkDir);
        await File.WriteAllTextAsync(PathOf(OwnerFile), Environment.ProcessId.ToString());
    }

    /// <summary>Removes everything of this run; its folder stays (with <paramref name="notes"/> in KEEP) if Keep was called.</summary>
    public async Task ReleaseAsync(string notes = "kept for a post-mortem")
    {
        if (_keep && Directory.Exists(WorkDir))
            await File.WriteAllTextAsync(PathOf(KeepFile), notes + "\n");
        await RemoveRunAsync(Prefix, _keep);
    }

    private async Task<HashSet<string>> PrefixesInUseAsync()
    {
        var prefixes = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in (await NetworkNamespace.ListAsync()).Concat(await Ip.LinkNamesAsync()))
        {
            if (_prefix.Match(name) is { Success: true } m && name.Length > m.Length && name[m.Length] == '-')
                prefixes.Add(m.Value);
        }
        foreach (string root in new[] { _root, DpdkRuntime })
        {
            if (Directory.Exists(root))
                prefixes.UnionWith(Directory.EnumerateDirectories(root).Select(Path.GetFileName).OfType<string>()
                    .Select(n => _prefix.Match(n)).Where(m => m.Success).Select(m => m.Value));
        }
        return prefixes;
    }

    private async Task RemoveRunAsync(string prefix, bool keepFolder)
    {
        string workDir = Path.Combine(_root, prefix);
        await KillProcessesUnderAsync(workDir);
        foreach (string link in (await Ip.LinkNamesAsync()).Where(n => n.StartsWith(prefix + "-", StringComparison.Ordinal)))
            await Ip.DeleteLinkAsync(link);
        foreach (string ns in (await NetworkNamespace.ListAsync()).Where(n => n.StartsWith(prefix + "-", StringComparison.Ordinal)))
            await NetworkNamespace.DeleteAsync(ns);
        if (Directory.Exists(DpdkRuntime))
        {
            foreach (string dir in Directory.EnumerateDirectories(DpdkRuntime, prefix + "*"))
                VswitchdProcess.CleanupRuntime(Path.GetFileName(dir));
        }
        if (keepFolder)
            File.Delete(Path.Combine(workDir, OwnerFile));
        else if (Directory.Exists(workDir) && !File.Exists(Path.Combine(workDir, KeepFile)))
            Directory.Delete(workDir, recursive: true);

        var left = (await NetworkNamespace.ListAsync()).Concat(await Ip.LinkNamesAsync())
            .Where(n => n.StartsWith(prefix + "-", StringComparison.Ordinal)).ToList();
        if (Directory.Exists(DpdkRuntime))
            left.AddRange(Directory.EnumerateDirectories(DpdkRuntime, prefix + "*"));
        if (left.Count > 0)
            throw new InvalidOperationException($"cleanup of {prefix} left {string.Join(", ", left)} behind");
    }

    /// <summary>A folder whose owner.pid names a running test process (this one or another run of the assembly).</summary>
    private static bool IsLive(string workDir)
    {
        string owner = Path.Combine(workDir, OwnerFile);
        if (!File.Exists(owner) || !int.TryParse(File.ReadAllText(owner).Trim(), out int pid))
            return false;
        if (pid == Environment.ProcessId)
            return true;
        return Signals.IsAlive(pid) && File.Exists($"/proc/{pid}/cmdline")
            && File.ReadAllText($"/proc/{pid}/cmdline").Contains("VSwitch.Tests.Integration", StringComparison.Ordinal);
    }

    /// <summary>
    /// SIGKILLs every process whose command line names <paramref name="workDir"/>: vswitchd (its
    /// --config), tcpdump (its -w) and the peer scripts all live there, and nothing else does.
    /// </summary>
    private static async Task KillProcessesUnderAsync(string workDir)
    {
        string needle = workDir + "/";
        var victims = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == Environment.ProcessId)
                continue;
            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            if (cmdline.Contains(needle, StringComparison.Ordinal))
                victims.Add(pid);
        }
        foreach (int pid in victims)
            Signals.Send(pid, Signals.SIGKILL);
        for (int i = 0; i < 50 && victims.Any(Signals.IsAlive); i++)
            await Task.Delay(20);
    }
}
