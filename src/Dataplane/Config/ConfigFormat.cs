namespace VSwitch.Dataplane.Config;

/// <summary>The syntax of a configuration file; both carry the same fields under the same names.</summary>
public enum ConfigFormat
{
    Yaml,
    Json,
}
