// Host requirements of the privileged test tiers. A missing tool fails the test with the
// package to install: these tests never skip, so a machine that cannot run them is visible.
namespace VSwitch.Tests.Integration.Infrastructure;

public static class Prerequisites
{
    /// <summary>Debian's python3 has python3-scapy; a pyenv or venv python on PATH usually does not.</summary>
    public const string SystemPython = "/usr/bin/python3";

    /// <summary>
    /// How long one tool's probe may take. In the KVM lane's one-vCPU TCG sandbox (measured
    /// 2026-12-04, host load average about 20): `python3 -c 'import scapy.all'` 15.0, 11.1 and
    /// 36.6 s, `tshark -v` 13.4 s, `ip -V` 4.7 s; the former 20 s limit failed the kernel GENEVE
    /// test on scapy. Three times the slowest; on the host each probe takes well under a second.
    /// </summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(120);

    /// <summary>A tool: the command that proves it works, and the Debian package that provides it.</summary>
    public sealed record Tool(string Name, string File, string[] Args, string Package, Func<ProcessResult, bool>? Accept = null);

    public static readonly Tool IpRoute2 = new("ip", "ip", ["-V"], "iproute2");
    public static readonly Tool Ethtool = new("ethtool", "ethtool", ["--version"], "ethtool");
    public static readonly Tool Tcpdump = new("tcpdump", "tcpdump", ["--version"], "tcpdump");
    public static readonly Tool Sysctl = new("sysctl", "sysctl", ["-n", "kernel.ostype"], "procps");
    // busybox and inetutils also ship a `ping`, without -p (payload pattern) or with other output.
    public static readonly Tool IputilsPing = new("ping (iputils)", "ping", ["-V"], "iputils-ping",
        r => r.Succeeded && (r.Stdout + r.Stderr).Contains("iputils", StringComparison.Ordinal));
    public static readonly Tool Scapy = new("scapy for /usr/bin/python3", SystemPython, ["-c", "import scapy.all"], "python3-scapy");

    /// <summary>What every test with namespaces, veths and real traffic drives.</summary>
    public static readonly Tool[] NetworkTestTools = [IpRoute2, Ethtool, Tcpdump, Sysctl, IputilsPing, Scapy];

    /// <summary>Throws one exception naming everything that is missing, with the apt-get line that fixes it.</summary>
    public static async Task RequireRootAndToolsAsync(string purpose, params Tool[] tools)
    {
        var problems = new List<string>();
        var packages = new List<string>();
        if (Signals.GetEffectiveUserId() != 0)
            problems.Add($"must run as root (euid is {Signals.GetEffectiveUserId()}): it creates network namespaces and runs DPDK");
        foreach (Tool tool in tools)
        {
            string? failure = null;
            try
            {
                ProcessResult r = await ProcessRunner.RunAsync(tool.File, tool.Args, ProbeTimeout);
                if (!(tool.Accept?.Invoke(r) ?? r.Succeeded))
                    failure = $"`{r.CommandLine}` exited with {r.ExitCode}: {(r.Stderr + r.Stdout).Trim().Split('\n').LastOrDefault()}";
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
                failure = e.Message.Split('\n')[0];
            }
            if (failure is not null)
            {
                problems.Add($"{tool.Name}: {failure}");
                packages.Add(tool.Package);
            }
        }
        if (problems.Count == 0)
            return;
        string install = packages.Count == 0 ? "" :
            $"\nInstall: DEBIAN_FRONTEND=noninteractive apt-get install -y {string.Join(' ', packages.Distinct())}";
        throw new InvalidOperationException($"{purpose} cannot run on this machine:\n  - {string.Join("\n  - ", problems)}{install}");
    }
}
