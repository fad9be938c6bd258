// Reading vswitchd's configuration file. It goes through four stages, each reporting every
// problem it finds rather than the first:
//   text -> tree (syntax; JsonTreeReader, YamlTreeReader) -> the file's fields (unknown and
//   mistyped fields; ConfigDocument) -> DaemonConfig (defaults, parsing, the daemon's settings;
//   ConfigMapper) -> the switch's rules (SpecValidator).
// Only a syntax error or a top level that is not a mapping stops it early.
using VSwitch.Dataplane.Config.Internal;

namespace VSwitch.Dataplane.Config;

public static class ConfigLoader
{
    /// <summary>Loads a .yaml, .yml or .json file; throws ConfigException with every problem found.</summary>
    public static DaemonConfig Load(string path)
    {
        ConfigFormat format = FormatOf(path)
            ?? throw new ConfigException(path, ["cannot tell the format from the file name; use .yaml, .yml or .json"]);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(path, [$"cannot read the file: {e.Message}"], e);
        }
        return Parse(text, format, path);
    }

    /// <summary>Parses configuration text; ConfigException's errors then carry no file path.</summary>
    public static DaemonConfig Parse(string text, ConfigFormat format) => Parse(text, format, filePath: null);

    /// <summary>The format a file name implies by its extension; null when it implies none.</summary>
    public static ConfigFormat? FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".yaml" or ".yml" => ConfigFormat.Yaml,
        ".json" => ConfigFormat.Json,
        _ => null,
    };

    private static DaemonConfig Parse(string text, ConfigFormat format, string? filePath)
    {
        var errors = new ConfigErrors();
        ConfigNode? root = format switch
        {
            ConfigFormat.Yaml => YamlTreeReader.Read(text, errors),
            ConfigFormat.Json => JsonTreeReader.Read(text, errors),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
        };
        ConfigDocument? document = root is null ? null : ConfigDocument.Bind(root, errors);
        if (root is null || document is null)
            throw new ConfigException(filePath, errors.Lines());

        // The mapper collects apart from the binder: a value the binder could not read reaches the
        // mapper as "not given", and must not be called missing as well.
        var mapping = new ConfigErrors();
        (DaemonConfig config, SpecPaths paths) = ConfigMapper.Map(document, mapping);
        errors.AddFollowUps(mapping.All);
        errors.AddFollowUps(SpecValidator.Check(config.Spec, paths));
        if (errors.Any)
            throw new ConfigException(filePath, FileOrder.Sort(errors.All, root).Select(e => e.ToString()).ToArray());
        return config;
    }
}
