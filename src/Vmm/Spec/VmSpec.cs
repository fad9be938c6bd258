// The VM spec file of `vmm run --spec FILE` (docs/vmm.md, "Spec file"): one JSON object that
// says everything `vmm run`'s options say. Every error names the field it is about, with the
// file's name first ("vm.json: memory_mib: ..."); unknown fields are errors too, so a typo
// never silently falls back to a default.
using System.Text.Json;
using VSwitch.Vmm.Acpi;
using VSwitch.Vmm.Boot;
using VSwitch.Vmm.Machine;

namespace VSwitch.Vmm.Spec;

/// <summary>An input (spec field or option) that cannot describe a VM; <see cref="Exception.Message"/> starts with the field.</summary>
public sealed class VmSpecException(string field, string problem) : Exception($"{field}: {problem}")
{
    public string Field { get; } = field;
}

/// <summary>A spec as read: every field optional, so command-line options can fill in or override.</summary>
public sealed record VmSpec
{
    public string? Kernel { get; init; }
    public string? Initramfs { get; init; }
    public string? Cmdline { get; init; }
    public int? MemoryMib { get; init; }
    public int? Vcpus { get; init; }
    public bool? HugePages { get; init; }
    public SerialOutputKind? Serial { get; init; }
    public string? SerialPath { get; init; }
    public string? ApiSocket { get; init; }

    public const int MaxMemoryMib = 1 << 20; // 1 TiB

    /// <summary>Reads <paramref name="path"/>; relative paths inside it are relative to the file's folder.</summary>
    public static VmSpec Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmSpecException("--spec", $"cannot read {path}: {e.Message}");
        }
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return Parse(text, Path.GetFileName(path), folder);
    }

    /// <summary>Parses spec JSON; <paramref name="source"/> prefixes field names in errors.</summary>
    public static VmSpec Parse(string json, string source, string baseFolder)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new VmSpecException(source, $"not valid JSON: {e.Message}");
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new VmSpecException(source, $"must be a JSON object, not {root.ValueKind}");
            var spec = new VmSpec();
            foreach (JsonProperty p in root.EnumerateObject())
            {
                string field = $"{source}: {p.Name}";
                spec = p.Name switch
                {
                    "kernel" => spec with { Kernel = PathValue(p.Value, field, baseFolder) },
                    "initramfs" => spec with { Initramfs = PathValue(p.Value, field, baseFolder) },
                    "cmdline" => spec with { Cmdline = StringValue(p.Value, field) },
                    "memory_mib" => spec with { MemoryMib = IntValue(p.Value, field) },
                    "vcpus" => spec with { Vcpus = IntValue(p.Value, field) },
                    "hugepages" => spec with { HugePages = BoolValue(p.Value, field) },
                    "api_socket" => spec with { ApiSocket = PathValue(p.Value, field, baseFolder) },
                    "serial" => ParseSerial(spec, p.Value, field, baseFolder),
                    _ => throw new VmSpecException(field, "unknown field; expected kernel, initramfs, cmdline, memory_mib, vcpus, hugepages, serial, api_socket"),
                };
            }
            return spec;
        }
    }

    private static VmSpec ParseSerial(VmSpec spec, JsonElement value, string field, string baseFolder)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new VmSpecException(field, $"must be an object like {{\"output\": \"stdout\"}}, not {value.ValueKind}");
        SerialOutputKind? kind = null;
        string? path = null;
        foreach (JsonProperty p in value.EnumerateObject())
        {
            string inner = $"{field}.{p.Name}";
            switch (p.Name)
            {
                case "output":
                    kind = ParseSerialOutput(StringValue(p.Value, inner), inner);
                    break;
                case "path":
                    path = PathValue(p.Value, inner, baseFolder);
                    break;
                default:
                    throw new VmSpecException(inner, "unknown field; expected output, path");
            }
        }
        if (kind is null)
            throw new VmSpecException($"{field}.output", "missing; one of stdout, file, none");
        if ((kind == SerialOutputKind.File) != (path is not null))
            throw new VmSpecException($"{field}.path", kind == SerialOutputKind.File ? "missing; output \"file\" needs a path" : $"only goes with output \"file\", not \"{Name(kind.Value)}\"");
        return spec with { Serial = kind, SerialPath = path };
    }

    internal static SerialOutputKind ParseSerialOutput(string value, string field) => value switch
    {
        "stdout" => SerialOutputKind.Stdout,
        "file" => SerialOutputKind.File,
        "none" => SerialOutputKind.None,
        _ => throw new VmSpecException(field, $"'{value}' is not one of stdout, file, none"),
    };

    private static string Name(SerialOutputKind kind) => kind.ToString().ToLowerInvariant();

    private static string StringValue(JsonElement value, string field) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw new VmSpecException(field, $"must be a string, not {value.ValueKind}");

    private static string PathValue(JsonElement value, string field, string baseFolder)
    {
        string path = StringValue(value, field);
        if (path.Length == 0)
            throw new VmSpecException(field, "must not be empty");
        return Path.GetFullPath(path, baseFolder);
    }

    private static int IntValue(JsonElement value, string field) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n) ? n
            : throw new VmSpecException(field, $"must be a whole number, not {(value.ValueKind == JsonValueKind.Number ? value.GetRawText() : value.ValueKind.ToString())}");

    private static bool BoolValue(JsonElement value, string field) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new VmSpecException(field, $"must be true or false, not {value.ValueKind}"),
    };

    /// <summary>
    /// The machine this spec describes, or the first field that cannot be one. <paramref name="fieldName"/>
    /// maps a spec field ("memory_mib") to how the user wrote it (e.g. "vm.json: memory_mib" or "--memory-mib").
    /// </summary>
    public MachineConfig ToMachineConfig(Func<string, string> fieldName)
    {
        if (Kernel is null)
            throw new VmSpecException(fieldName("kernel"), "missing; the bzImage to boot");
        int memory = MemoryMib ?? MachineConfig.DefaultMemoryMib;
        ulong minimumMib = E820Map.MinimumMemorySize >> 20, alignMib = E820Map.MemoryAlignment >> 20;
        if (memory < (int)minimumMib || memory > MaxMemoryMib || memory % (int)alignMib != 0)
            throw new VmSpecException(fieldName("memory_mib"), $"{memory} is not a multiple of {alignMib} in {minimumMib}..{MaxMemoryMib}");
        int vcpus = Vcpus ?? 1;
        if (vcpus < 1 || vcpus > AcpiTables.MaxVcpus)
            throw new VmSpecException(fieldName("vcpus"), $"{vcpus} is not in 1..{AcpiTables.MaxVcpus}");
        SerialOutputKind serial = Serial ?? SerialOutputKind.Stdout;
        if (serial == SerialOutputKind.File && SerialPath is null)
            throw new VmSpecException(fieldName("serial.path"), "missing; output \"file\" needs a path");
        return new MachineConfig
        {
            KernelPath = Kernel,
            InitramfsPath = Initramfs,
            CommandLine = Cmdline ?? MachineConfig.DefaultCommandLine,
            MemoryMib = memory,
            Vcpus = vcpus,
            HugePages = HugePages ?? false,
            Serial = serial,
            SerialPath = serial == SerialOutputKind.File ? SerialPath : null,
            ApiSocket = ApiSocket,
        };
    }
}
