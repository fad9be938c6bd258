namespace VSwitch.Dataplane.Config;

/// <summary>
/// A configuration that cannot be used. Carries every problem found, not only the first, so one
/// edit-and-retry fixes them all. The message has one line per problem, each starting with the
/// file path when there is one: "vswitchd.yaml: tenants[0].vms[1].mac: '...' is not a MAC address".
/// </summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string? filePath, IReadOnlyList<string> errors, Exception? innerException = null)
        : base(FormatMessage(filePath, errors), innerException)
    {
        FilePath = filePath;
        Errors = errors;
    }

    /// <summary>The file the configuration came from; null when it was parsed from text.</summary>
    public string? FilePath { get; }

    /// <summary>One entry per problem, "field.path: what is wrong", without the file path.</summary>
    public IReadOnlyList<string> Errors { get; }

    private static string FormatMessage(string? filePath, IReadOnlyList<string> errors) =>
        string.Join('\n', errors.Select(error => filePath is null ? error : $"{filePath}: {error}"));
}
