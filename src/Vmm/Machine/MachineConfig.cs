// A VM as the vmm program runs it: what `vmm run` options and spec files (Spec/VmSpec.cs) both
// become, already validated.
using VSwitch.Vmm.Devices.Virtio.Net;
using VSwitch.Vmm.Volumes;
using VSwitch.Vmm.Volumes.Pool;

namespace VSwitch.Vmm.Machine;

/// <summary>A virtio-net NIC: what the guest sees of it, and the vhost-user socket vswitchd connects to.</summary>
public sealed record NicConfig(NetDeviceConfig Device, string Socket);

/// <summary>
/// A virtio-blk disk: its volume (a file or block device at <paramref name="Path"/>, or a pool
/// volume at <see cref="Pool"/>: extents, an NBD export or a file), the id the guest reads, and its request queues.
/// </summary>
public sealed record DiskConfig(string? Path, string Id, bool ReadOnly, int Queues)
{
    /// <summary>virtio-blk's GET_ID answer is 20 bytes.</summary>
    public const int MaxIdBytes = 20;

    /// <summary>How long a network volume may be unreachable before a request fails (the guest gets an I/O error).</summary>
    public static readonly TimeSpan NbdReconnectLimit = TimeSpan.FromSeconds(60);

    /// <summary>The pool volume this disk's volume is, instead of a file.</summary>
    public PoolVolumeName? Pool { get; init; }

    /// <summary>The spec field that names the volume, and what it says, for messages.</summary>
    public (string Field, string Value) Source =>
        Pool is { } pool ? ("volume", pool.ToString()) : ("path", Path!);

    /// <summary>Attaches the volume for the VM named <paramref name="vm"/>. Throws <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> saying why it cannot.</summary>
    public IBlockVolume Open(string? vm, Action<string> log) => this switch
    {
        { Pool: { } pool } => VolumePool.OpenDisk(pool, vm!, ReadOnly, Id, NbdReconnectLimit, log),
        _ => RawFileVolume.Open(Path!, Id, ReadOnly),
    };
}

/// <summary>Where the guest's COM1 output goes.</summary>
public enum SerialOutputKind
{
    Stdout,
    File,
    None,
}

public sealed record MachineConfig
{
    public const int MaxNameLength = PoolRecord.MaxTextBytes;

    /// <summary>The VM's name: who it is to a volume pool's attachments.</summary>
    public string? Name { get; init; }
    public required string KernelPath { get; init; }
    public string? InitramfsPath { get; init; }
    public string CommandLine { get; init; } = DefaultCommandLine;
    public int MemoryMib { get; init; } = DefaultMemoryMib;
    public int Vcpus { get; init; } = 1;
    /// <summary>Back guest RAM with 2 MiB pages from the hugetlbfs pool (memfd MFD_HUGETLB).</summary>
    public bool HugePages { get; init; }
    public SerialOutputKind Serial { get; init; } = SerialOutputKind.Stdout;
    /// <summary>The file for <see cref="SerialOutputKind.File"/>; created or truncated.</summary>
    public string? SerialPath { get; init; }
    /// <summary>Unix socket of the JSON API (docs/vmm.md, "API"); null for none.</summary>
    public string? ApiSocket { get; init; }
    /// <summary>A cgroup v2 group the VMM moves itself into before the VM exists, so its vCPUs never run outside it; null: stay where started.</summary>
    public string? Cgroup { get; init; }
    /// <summary>The guest's NICs, in slot order (virtio-mmio device 0, 1, ...).</summary>
    public IReadOnlyList<NicConfig> Nics { get; init; } = [];
    /// <summary>The guest's disks, in the slots after the NICs (the first is /dev/vda).</summary>
    public IReadOnlyList<DiskConfig> Disks { get; init; } = [];

    /// <summary>Virtio devices a VM can have: one IOAPIC pin each, of the 8 above the ISA ones.</summary>
    public const int MaxVirtioDevices = 8;

    public const int DefaultMemoryMib = 256;

    /// <summary>
    /// COM1 as the console; reboot through the keyboard controller (the VMM ends the VM there);
    /// a panic stops at once instead of hanging the guest; no PCI (there is no PCI bus, and the
    /// kernel's early PCI quirk scan would otherwise probe 256 buses x 32 slots through port
    /// 0xCF8/0xCFC, some 16,000 VM exits).
    /// </summary>
    public const string DefaultCommandLine = "console=ttyS0 reboot=k panic=-1 pci=off";
}
