namespace VSwitch.Tests.Unit;

/// <summary>The checkout the tests run from: tests that read docs, examples or sources find them here.</summary>
internal static class Repository
{
    /// <summary>The directory holding VSwitch.sln, above the test binary.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>A path inside the checkout: Repository.PathOf("docs", "control-socket.md").</summary>
    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VSwitch.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no VSwitch.sln above {AppContext.BaseDirectory}");
    }
}
