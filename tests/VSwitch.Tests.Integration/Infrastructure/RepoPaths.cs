// Where the repository, its pcaps/ and the built vswitchd and vswitch-agent are, found from this test assembly.
using VSwitch.Dataplane.Counters;

namespace VSwitch.Tests.Integration.Infrastructure;

public static class RepoPaths
{
    private static string? s_root;

    /// <summary>The directory with VSwitch.sln above this test assembly.</summary>
    public static string Root => s_root ??= FindRoot();

    public static string PcapsDirectory => Path.Combine(Root, "pcaps");

    /// <summary>The drop reasons' labels in DropReason's order: the list the dataplane pins (src/Dataplane/Counters/drop-reasons.txt).</summary>
    public static IReadOnlyList<string> DropReasonLabels() =>
        [.. File.ReadLines(Path.Combine(Root, "src", "Dataplane", "Counters", "drop-reasons.txt")).Where(line => line.Length > 0 && !line.StartsWith('#'))];

    /// <summary>
    /// $VSWITCHD, else src/Dataplane/bin/&lt;Configuration&gt;/net10.0/vswitchd with the configuration this
    /// test assembly was built in (tests/VSwitch.Tests.Integration/bin/&lt;Configuration&gt;/net10.0/).
    /// Throws, saying how to build it, when it or the DPDK shim beside it is missing.
    /// </summary>
    public static string Vswitchd()
    {
        string binary = Environment.GetEnvironmentVariable("VSWITCHD") is { Length: > 0 } overridden
            ? overridden
            : Built(["src", "Dataplane"], "vswitchd");
        if (!File.Exists(binary))
            throw new InvalidOperationException($"vswitchd not found at {binary}: build it first (dotnet build VSwitch.sln), or set VSWITCHD");
        string shim = Path.Combine(Path.GetDirectoryName(binary)!, "libvswshim.so");
        if (!File.Exists(shim))
        {
            throw new InvalidOperationException(
                $"{shim} is missing: vswitchd cannot reach DPDK's inline functions without it. Build native/dpdk-shim " +
                "(needs libdpdk-dev) and run dotnet build VSwitch.sln again so it is copied beside vswitchd");
        }
        return binary;
    }

    /// <summary>
    /// src/Control/Agent/bin/&lt;Configuration&gt;/net10.0/vswitch-agent, in this test assembly's
    /// configuration; throws, saying how to build it, when it is missing.
    /// </summary>
    public static string Agent() => Existing(Built(["src", "Control", "Agent"], "vswitch-agent"));

    /// <summary>src/Control/Vswctl/bin/&lt;Configuration&gt;/net10.0/vswctl, as Agent().</summary>
    public static string Vswctl() => Existing(Built(["src", "Control", "Vswctl"], "vswctl"));

    private static string Existing(string binary) =>
        File.Exists(binary) ? binary : throw new InvalidOperationException($"{Path.GetFileName(binary)} not found at {binary}: build it first (dotnet build VSwitch.sln)");

    /// <summary>PROJECT/bin/&lt;Configuration&gt;/&lt;tfm&gt;/NAME, with the configuration and target framework of this test assembly (tests/VSwitch.Tests.Integration/bin/&lt;Configuration&gt;/net10.0/).</summary>
    private static string Built(string[] project, string name)
    {
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string configuration = tfm.Parent?.Name ?? "Debug";
        return Path.Combine([Root, .. project, "bin", configuration, tfm.Name, name]);
    }

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VSwitch.sln")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException($"no VSwitch.sln above {AppContext.BaseDirectory}: cannot find the repository (set VSWITCHD for vswitchd)");
    }
}
