// `vswitch-agent run --host-settings FILE` (docs/agent.md, "Reconcile"): one JSON object holding
// Plan/HostSettings (runtime_dir, vswitchd, vmm) and what launching vswitchd takes besides
// (vswitchd_binary, vmm_binary, log_dir, supervisor_dir). Read with the API's conventions (snake_case, an
// unknown field refused), and checked whole at start: the agent refuses to start (exit 2) on a
// file it could only fail with later, and every error names its field as the file spells it.
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Reconcile;

/// <summary>The host settings file cannot be used; the message starts with the field.</summary>
public sealed class HostSettingsException(string field, string problem) : Exception($"{field}: {problem}")
{
    public string Field { get; } = field;
}

/// <summary>What the reconcile loop runs with.</summary>
/// <param name="Host">What the plans are compiled with.</param>
/// <param name="VswitchdBinary">The vswitchd executable the supervisor starts (`vswitchd run --config PATH`).</param>
/// <param name="VmmBinary">The vmm executable the supervisor starts once per VM (`vmm run --spec PATH`); null: VMs get their vswitchd ports, and nothing boots them.</param>
/// <param name="LogDirectory">The supervisor's children's logs (NAME.log).</param>
/// <param name="SupervisorDirectory">The supervisor's record of its children (NAME.json), read by the next agent to adopt them.</param>
public sealed record ReconcileSettings(HostSettings Host, string VswitchdBinary, string LogDirectory, string SupervisorDirectory, string? VmmBinary = null);

public static class HostSettingsFile
{
    public const string BinaryField = "vswitchd_binary";
    public const string VmmBinaryField = "vmm_binary";
    public const string LogField = "log_dir";
    public const string SupervisorField = "supervisor_dir";

    /// <summary>Under the runtime directory by default: a tmpfs, where a child's identity is only worth something during its boot.</summary>
    public const string DefaultLogSubdirectory = "log";
    public const string DefaultSupervisorSubdirectory = "supervisor";

    private static readonly JsonSerializerOptions Options = new(AgentJson.Options)
    {
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
    };

    /// <exception cref="HostSettingsException">The file is unreadable, not the settings' JSON, or holds a setting no daemon can run with.</exception>
    public static ReconcileSettings Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HostSettingsException("file", e.Message);
        }
        return Parse(text);
    }

    /// <exception cref="HostSettingsException">As <see cref="Load"/>.</exception>
    public static ReconcileSettings Parse(string text)
    {
        try
        {
            if (JsonNode.Parse(text) is not JsonObject root)
                throw new HostSettingsException("file", "must hold one JSON object");
            // The launch fields are taken out first, so what remains is exactly a HostSettings.
            string? binary = TakeString(root, BinaryField);
            string? vmm = TakeString(root, VmmBinaryField);
            string? logs = TakeString(root, LogField);
            string? supervisor = TakeString(root, SupervisorField);
            HostSettings host = root.Deserialize<HostSettings>(Options) ?? throw new HostSettingsException("file", "must hold one JSON object");
            host.Check();
            var settings = new ReconcileSettings(
                host,
                binary ?? throw new HostSettingsException(BinaryField, "is required: the absolute path of the vswitchd executable"),
                logs ?? Path.Join(host.RuntimeDirectory, DefaultLogSubdirectory),
                supervisor ?? Path.Join(host.RuntimeDirectory, DefaultSupervisorSubdirectory),
                vmm);
            Absolute(BinaryField, settings.VswitchdBinary);
            if (vmm is not null)
                Absolute(VmmBinaryField, vmm);
            Absolute(LogField, settings.LogDirectory);
            Absolute(SupervisorField, settings.SupervisorDirectory);
            return settings;
        }
        catch (PlanException e)
        {
            throw new HostSettingsException(e.Field, e.Message[(e.Field.Length + 2)..]);
        }
        catch (JsonException e)
        {
            string field = e.Path is { } where && where.StartsWith("$.", StringComparison.Ordinal) ? where[2..] : "file";
            if (e.Message.Contains("could not be mapped", StringComparison.Ordinal))
                throw new HostSettingsException(field, "unknown field (docs/agent.md, \"--host-settings\")");
            // A missing required field: STJ names it last in the message ("JSON deserialization for
            // type 'T' was missing required properties including: 'runtime_dir'.").
            if (e.Message.Contains("missing required", StringComparison.Ordinal) && e.Message.Split('\'') is [.., string missing, _])
                throw new HostSettingsException(field == "file" ? missing : $"{field}.{missing}", "is required");
            throw new HostSettingsException(field, $"malformed: {e.Message.Split(" Path:")[0]}");
        }
    }

    private static string? TakeString(JsonObject root, string field)
    {
        if (!root.Remove(field, out JsonNode? node) || node is null)
            return null;
        return node is JsonValue value && value.TryGetValue(out string? text) && text.Length > 0
            ? text
            : throw new HostSettingsException(field, "must be a non-empty string");
    }

    private static void Absolute(string field, string path)
    {
        if (!Path.IsPathFullyQualified(path))
            throw new HostSettingsException(field, $"'{path}' is not an absolute path");
    }
}
