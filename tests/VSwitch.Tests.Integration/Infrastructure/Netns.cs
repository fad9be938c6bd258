// Linux network namespaces and links for system tests, driven through iproute2. A namespace
// stands in for a VM: programs run inside it with `ip netns exec`, which execs the program
// itself, so a BackgroundProcess's pid is the program's and signals reach it directly.
namespace VSwitch.Tests.Integration.Infrastructure;

public sealed class NetworkNamespace(string name)
{
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(15);

    public string Name { get; } = name;

    public override string ToString() => Name;

    public static async Task<NetworkNamespace> CreateAsync(string name)
    {
        await Ip.RunAsync("netns", "add", name);
        var ns = new NetworkNamespace(name);
        await ns.RunCheckedAsync("ip", "link", "set", "lo", "up");
        return ns;
    }

    /// <summary>Deletes a namespace by name; returns false (and no error) if it did not exist.</summary>
    public static async Task<bool> DeleteAsync(string name)
    {
        ProcessResult r = await ProcessRunner.RunAsync("ip", ["netns", "delete", name], CommandTimeout);
        return r.Succeeded;
    }

    public static async Task<IReadOnlyList<string>> ListAsync()
    {
        ProcessResult r = await ProcessRunner.RunCheckedAsync("ip", ["netns", "list"], CommandTimeout);
        // Lines look like "name" or "name (id: 3)".
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ')[0]).ToList();
    }

    private string[] Wrap(string file, IEnumerable<string> args) => ["netns", "exec", Name, file, .. args];

    public Task<ProcessResult> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null, string? stdin = null) =>
        ProcessRunner.RunAsync("ip", Wrap(file, args), timeout ?? CommandTimeout, stdin);

    public Task<ProcessResult> RunAsync(string file, params string[] args) => RunAsync(file, args, null);

    public async Task<ProcessResult> RunCheckedAsync(string file, params string[] args) =>
        (await RunAsync(file, args, null)).EnsureSuccess();

    public BackgroundProcess Start(string label, string file, IEnumerable<string> args, bool redirectStdin = false) =>
        BackgroundProcess.Start($"{label}@{Name}", "ip", Wrap(file, args), redirectStdin);

    public Task SysctlAsync(string key, string value) => RunCheckedAsync("sysctl", "-q", "-w", $"{key}={value}");
}

/// <summary>iproute2, ethtool and sysctl in the root namespace.</summary>
public static class Ip
{
    public static Task<ProcessResult> RunAsync(params string[] args) =>
        ProcessRunner.RunCheckedAsync("ip", args, NetworkNamespace.CommandTimeout);

    /// <summary>Names of every link in the root namespace (the part before '@' for veths).</summary>
    public static async Task<IReadOnlyList<string>> LinkNamesAsync()
    {
        ProcessResult r = await ProcessRunner.RunCheckedAsync("ip", ["-o", "link", "show"], NetworkNamespace.CommandTimeout);
        // "12: vst1a2b3-ra@if2: <BROADCAST,..."
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(':', 3))
            .Where(parts => parts.Length >= 2)
            .Select(parts => parts[1].Trim().Split('@')[0])
            .ToList();
    }

    public static async Task<bool> DeleteLinkAsync(string name)
    {
        ProcessResult r = await ProcessRunner.RunAsync("ip", ["link", "delete", name], NetworkNamespace.CommandTimeout);
        return r.Succeeded;
    }

    public static Task SysctlAsync(string key, string value) =>
        ProcessRunner.RunCheckedAsync("sysctl", ["-q", "-w", $"{key}={value}"], NetworkNamespace.CommandTimeout);

    /// <summary>
    /// Turns off tx checksum offload and segmentation: DPDK's af_packet PMD ignores the
    /// checksum-not-ready flag, so with offloads on, TCP over it breaks (design.md, day-one notes).
    /// </summary>
    public static string[] EthtoolOffloadsOffArgs(string device) => ["-K", device, "tx", "off", "tso", "off", "gso", "off"];
}
