// What a VM has cost so far in exits to the VMM's user space: per vCPU by reason, and per NIC and
// disk by the virtio-mmio register the guest touched; and what each disk served. The API's
// "stats" op returns it and vmm prints it when the VM stops; docs/vmm.md ("What an interrupt costs") reads the numbers.
using VSwitch.Vmm.Devices.Virtio.Block;
using VSwitch.Vmm.Devices.Virtio.Mmio;

namespace VSwitch.Vmm.Machine;

/// <param name="VcpuExits">Per vCPU, its exits indexed by <see cref="VcpuExitKind"/>.</param>
/// <param name="Nics">Per NIC, in slot order, the exits on its virtio-mmio window.</param>
/// <param name="Disks">Per disk, in slot order, its requests by outcome and the exits on its window.</param>
public sealed record VmStatistics(IReadOnlyList<long[]> VcpuExits, IReadOnlyList<MmioExitCounts> Nics, IReadOnlyList<DiskStatistics> Disks)
{
    public static readonly VmStatistics None = new([], [], []);

    /// <summary>Per vCPU, the time its thread spent in KVM_RUN: the guest running, and KVM's own work for it.</summary>
    public IReadOnlyList<TimeSpan> VcpuRunTime { get; init; } = [];

    /// <summary>
    /// Per vCPU, the time its thread was runnable but waiting for a host CPU (schedstat's
    /// run_delay, what KVM reports to the guest as steal time); null where the host kernel does not keep it.
    /// </summary>
    public IReadOnlyList<TimeSpan?> VcpuSteal { get; init; } = [];

    /// <summary>Bytes through the serial console (COM1): sent by the guest, and taken from the host's input.</summary>
    public (long Transmitted, long Received) Serial { get; init; }
}

/// <param name="Network">For a network volume (NBD), how often its connection was lost and remade; null for a file.</param>
public sealed record DiskStatistics(string Id, BlockQueueCounters Requests, MmioExitCounts Exits, NetworkVolumeStatistics? Network = null);

/// <param name="Reconnects">Connections made again after one was lost.</param>
/// <param name="Retries">Requests sent again on a new connection; none of them failed the guest.</param>
public sealed record NetworkVolumeStatistics(long Reconnects, long Retries);
