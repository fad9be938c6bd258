// A VM as the vmm program runs it: what `vmm run` options and spec files (Spec/VmSpec.cs) both
// become, already validated.
namespace VSwitch.Vmm.Machine;

/// <summary>Where the guest's COM1 output goes.</summary>
public enum SerialOutputKind
{
    Stdout,
    File,
    None,
}

public sealed record MachineConfig
{
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

    public const int DefaultMemoryMib = 256;

    /// <summary>
    /// COM1 as the console; reboot through the keyboard controller (the VMM ends the VM there);
    /// a panic stops at once instead of hanging the guest; no PCI (there is no PCI bus, and the
    /// kernel's early PCI quirk scan would otherwise probe 256 buses x 32 slots through port
    /// 0xCF8/0xCFC, some 16,000 VM exits).
    /// </summary>
    public const string DefaultCommandLine = "console=ttyS0 reboot=k panic=-1 pci=off";
}
