// The whole environment of a daemon the agent starts: nothing of the agent's own is passed on
// but what a .NET program needs to find its runtime.
namespace VSwitch.Control.Agent.Reconcile;

public static class ChildEnvironment
{
    /// <summary>A minimal PATH: neither vswitchd nor vmm runs another program.</summary>
    private const string ChildPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <param name="fingerprintVariable">A variable the daemon ignores, holding what only a restart changes: a changed value restarts the child (ChildSpec equality).</param>
    public static IReadOnlyDictionary<string, string> For(string fingerprintVariable, string fingerprint)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = ChildPath,
            [fingerprintVariable] = fingerprint,
        };
        // A framework-dependent .NET program (vswitchd, or a vmm not published with NativeAOT)
        // finds its runtime through DOTNET_ROOT when it is not in the default place, as the agent's own did.
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } dotnetRoot)
            environment["DOTNET_ROOT"] = dotnetRoot;
        return environment;
    }
}
