// The VM spec file of `vmm run --spec FILE` (docs/vmm.md, "Spec file"): one JSON object that
// says everything `vmm run`'s options say. Every error names the field it is about, with the
// file's name first ("vm.json: memory_mib: ..."); unknown fields are errors too, so a typo
// never silently falls back to a default.
using System.Text.Json;
using VSwitch.Vmm.Acpi;
using VSwitch.Vmm.Boot;
using VSwitch.Vmm.Devices.Virtio.Block;
using VSwitch.Vmm.Devices.Virtio.Net;
using VSwitch.Vmm.Machine;

using VSwitch.Vmm.Volumes.Pool;

namespace VSwitch.Vmm.Spec;

/// <summary>An input (spec field or option) that cannot describe a VM; <see cref="Exception.Message"/> starts with the field.</summary>
public sealed class VmSpecException(string field, string problem) : Exception($"{field}: {problem}")
{
    public string Field { get; } = field;
}

/// <summary>A spec as read: every field optional, so command-line options can fill in or override.</summary>
public sealed record VmSpec
{
    public string? Name { get; init; }
    public string? Kernel { get; init; }
    public string? Initramfs { get; init; }
    public string? Cmdline { get; init; }
    public int? MemoryMib { get; init; }
    public int? Vcpus { get; init; }
    public bool? HugePages { get; init; }
    public SerialOutputKind? Serial { get; init; }
    public string? SerialPath { get; init; }
    public string? ApiSocket { get; init; }
    public string? Cgroup { get; init; }
    public IReadOnlyList<NicConfig>? Nics { get; init; }
    public IReadOnlyList<DiskConfig>? Disks { get; init; }

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
                    "name" => spec with { Name = NameValue(p.Value, field) },
                    "kernel" => spec with { Kernel = PathValue(p.Value, field, baseFolder) },
                    "initramfs" => spec with { Initramfs = PathValue(p.Value, field, baseFolder) },
                    "cmdline" => spec with { Cmdline = StringValue(p.Value, field) },
                    "memory_mib" => spec with { MemoryMib = IntValue(p.Value, field) },
                    "vcpus" => spec with { Vcpus = IntValue(p.Value, field) },
                    "hugepages" => spec with { HugePages = BoolValue(p.Value, field) },
                    "api_socket" => spec with { ApiSocket = PathValue(p.Value, field, baseFolder) },
                    "cgroup" => spec with { Cgroup = PathValue(p.Value, field, baseFolder) },
                    "serial" => ParseSerial(spec, p.Value, field, baseFolder),
                    "nics" => spec with { Nics = ParseNics(p.Value, field, baseFolder) },
                    "disks" => spec with { Disks = ParseDisks(p.Value, field, baseFolder) },
                    _ => throw new VmSpecException(field, "unknown field; expected name, kernel, initramfs, cmdline, memory_mib, vcpus, hugepages, serial, api_socket, cgroup, nics, disks"),
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
            throw new VmSpecException($"{field}.path", kind == SerialOutputKind.File ? "missing; output \"file\" needs a path" : $"only goes with output \"file\", not \"{KindName(kind.Value)}\"");
        return spec with { Serial = kind, SerialPath = path };
    }

    // "nics": [{"socket": "vm1-net0.sock", "mac": "02:00:00:00:00:01", "mtu": 1500, "queue_pairs": 1}]
    private static List<NicConfig> ParseNics(JsonElement value, string field, string baseFolder)
    {
        if (value.ValueKind != JsonValueKind.Array)
            throw new VmSpecException(field, $"must be a list of NICs like [{{\"socket\": \"net0.sock\", \"mac\": \"02:00:00:00:00:01\"}}], not {value.ValueKind}");
        var nics = new List<NicConfig>();
        foreach (JsonElement element in value.EnumerateArray())
        {
            string nicField = $"{field}[{nics.Count}]";
            if (element.ValueKind != JsonValueKind.Object)
                throw new VmSpecException(nicField, $"must be an object, not {element.ValueKind}");
            if (nics.Count == MachineConfig.MaxVirtioDevices)
                throw new VmSpecException(field, $"at most {MachineConfig.MaxVirtioDevices} NICs");
            string? socket = null;
            byte[]? mac = null;
            int mtu = 1500, pairs = 1;
            foreach (JsonProperty p in element.EnumerateObject())
            {
                string inner = $"{nicField}.{p.Name}";
                switch (p.Name)
                {
                    case "socket": socket = PathValue(p.Value, inner, baseFolder); break;
                    case "mac": mac = MacValue(p.Value, inner); break;
                    case "mtu": mtu = IntValue(p.Value, inner); break;
                    case "queue_pairs": pairs = IntValue(p.Value, inner); break;
                    default: throw new VmSpecException(inner, "unknown field; expected socket, mac, mtu, queue_pairs");
                }
            }
            if (socket is null)
                throw new VmSpecException($"{nicField}.socket", "missing; the vhost-user socket the VMM serves and vswitchd connects to");
            if (mac is null)
                throw new VmSpecException($"{nicField}.mac", "missing; the guest's MAC address, as vswitchd's port binding has it");
            if (mtu is < 68 or > ushort.MaxValue)
                throw new VmSpecException($"{nicField}.mtu", $"{mtu} is not in 68..{ushort.MaxValue}");
            var device = new NetDeviceConfig(mac, (ushort)mtu, pairs);
            if (device.Validate() is string problem)
            {
                // The message starts with the config's own field name ("mac: ...", "queue_pairs: ...").
                int colon = problem.IndexOf(':');
                throw new VmSpecException($"{nicField}.{problem[..colon]}", problem[(colon + 2)..]);
            }
            foreach (NicConfig other in nics)
            {
                if (other.Socket == socket)
                    throw new VmSpecException($"{nicField}.socket", $"{socket} is already another NIC's socket");
                if (other.Device.Mac.AsSpan().SequenceEqual(mac))
                    throw new VmSpecException($"{nicField}.mac", "is already another NIC's MAC address");
            }
            nics.Add(new NicConfig(device, socket));
        }
        return nics;
    }

    // "disks": [{"path": "vm1-root.img", "id": "vm1-root", "read_only": false, "queues": 1},
    //           {"pool": "/srv/pool", "volume": "vm1-data"}]
    private static List<DiskConfig> ParseDisks(JsonElement value, string field, string baseFolder)
    {
        if (value.ValueKind != JsonValueKind.Array)
            throw new VmSpecException(field, $"must be a list of disks like [{{\"path\": \"root.img\"}}], not {value.ValueKind}");
        var disks = new List<DiskConfig>();
        foreach (JsonElement element in value.EnumerateArray())
        {
            string diskField = $"{field}[{disks.Count}]";
            if (element.ValueKind != JsonValueKind.Object)
                throw new VmSpecException(diskField, $"must be an object, not {element.ValueKind}");
            string? path = null, id = null, pool = null, volume = null;
            bool readOnly = false;
            int queues = 1;
            foreach (JsonProperty p in element.EnumerateObject())
            {
                string inner = $"{diskField}.{p.Name}";
                switch (p.Name)
                {
                    case "path": path = PathValue(p.Value, inner, baseFolder); break;
                    // An export named here would be the VM's for the naming: it has owners only as a pool volume.
                    case "nbd": throw new VmSpecException(inner, "an NBD export is attached as a pool volume: `vmm volume create --pool P --name N --nbd URI`, " +
                        "`vmm volume attach` to this VM, then pool and volume here");
                    case "pool": pool = PathValue(p.Value, inner, baseFolder); break;
                    case "volume": volume = StringValue(p.Value, inner); break;
                    case "id": id = StringValue(p.Value, inner); break;
                    case "read_only": readOnly = BoolValue(p.Value, inner); break;
                    case "queues": queues = IntValue(p.Value, inner); break;
                    default: throw new VmSpecException(inner, "unknown field; expected path or pool and volume, id, read_only, queues");
                }
            }
            if ((pool is null) != (volume is null))
                throw new VmSpecException($"{diskField}.{(pool is null ? "pool" : "volume")}", "missing; a pool volume names its pool (folder) and its volume");
            if ((path is null) == (pool is null))
                throw new VmSpecException($"{diskField}.{(path is null ? "path" : "pool")}", path is null
                    ? "missing; the volume's file (or block device), or pool and volume: a volume of a pool (its extents, an NBD export or a file)"
                    : "a disk is one of a file (path) or a pool volume (pool, volume)");
            PoolVolumeName? poolVolume = pool is null ? null : new PoolVolumeName(pool, volume!);
            id ??= path is not null ? Path.GetFileNameWithoutExtension(path) : volume!;
            if (id.Length == 0 || System.Text.Encoding.UTF8.GetByteCount(id) > DiskConfig.MaxIdBytes)
                throw new VmSpecException($"{diskField}.id", $"'{id}' must be 1..{DiskConfig.MaxIdBytes} bytes (what the guest's GET_ID reads)");
            if (queues < 1 || queues > VirtioBlockDevice.MaxQueues)
                throw new VmSpecException($"{diskField}.queues", $"{queues} must be from 1 to {VirtioBlockDevice.MaxQueues}");
            var disk = new DiskConfig(path, id, readOnly, queues) { Pool = poolVolume };
            foreach (DiskConfig other in disks)
            {
                if (other.Source == disk.Source)
                    throw new VmSpecException($"{diskField}.{disk.Source.Field}", $"{disk.Source.Value} is already another disk's volume");
                if (other.Id == id)
                    throw new VmSpecException($"{diskField}.id", $"'{id}' is already another disk's id");
            }
            disks.Add(disk);
        }
        return disks;
    }

    /// <summary>A VM's name: what a pool volume's attachment names (`vmm volume attach --vm`).</summary>
    private static string NameValue(JsonElement value, string field)
    {
        string name = StringValue(value, field);
        if (!VolumePool.IsName(name, MachineConfig.MaxNameLength))
            throw new VmSpecException(field, $"'{name}' must be 1 to {MachineConfig.MaxNameLength} letters, digits, '-', '_' or '.'");
        return name;
    }

    private static byte[] MacValue(JsonElement value, string field)
    {
        string text = StringValue(value, field);
        string[] parts = text.Split(':');
        var mac = new byte[6];
        if (parts.Length != 6 || !parts.Select((part, i) => part.Length == 2 && byte.TryParse(part, System.Globalization.NumberStyles.HexNumber, null, out mac[i])).All(ok => ok))
            throw new VmSpecException(field, $"'{text}' is not a MAC address like 02:00:00:00:00:01");
        return mac;
    }

    internal static SerialOutputKind ParseSerialOutput(string value, string field) => value switch
    {
        "stdout" => SerialOutputKind.Stdout,
        "file" => SerialOutputKind.File,
        "none" => SerialOutputKind.None,
        _ => throw new VmSpecException(field, $"'{value}' is not one of stdout, file, none"),
    };

    private static string KindName(SerialOutputKind kind) => kind.ToString().ToLowerInvariant();

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
        if (Name is null && (Disks ?? []).Any(d => d.Pool is not null))
            throw new VmSpecException(fieldName("name"), "missing; a VM with a pool volume needs its name, which the volume's attachment names");
        return new MachineConfig
        {
            Name = Name,
            KernelPath = Kernel,
            InitramfsPath = Initramfs,
            CommandLine = Cmdline ?? MachineConfig.DefaultCommandLine,
            MemoryMib = memory,
            Vcpus = vcpus,
            HugePages = HugePages ?? false,
            Serial = serial,
            SerialPath = serial == SerialOutputKind.File ? SerialPath : null,
            ApiSocket = ApiSocket,
            Cgroup = Cgroup,
            Nics = Nics ?? [],
            Disks = Disks ?? [],
        };
    }
}
