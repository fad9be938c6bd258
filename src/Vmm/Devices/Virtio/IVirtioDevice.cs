// What a virtio device is to its transport (virtio 1.2 section 3 "General Initialization And
// Device Operation"): features to offer, queues to size, a configuration space, and the moment
// the driver sets DRIVER_OK. The transport (Mmio/) owns the registers and the status state
// machine; the device owns what happens on its queues, whether the VMM serves them (a
// SplitVirtqueue) or hands them to a backend in another process (vhost-user).
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;

namespace VSwitch.Vmm.Devices.Virtio;

public interface IVirtioDevice
{
    VirtioDeviceType DeviceType { get; }

    /// <summary>Feature bits offered; the transport adds VIRTIO_F_VERSION_1.</summary>
    ulong DeviceFeatures { get; }

    /// <summary>The largest QueueNum the driver may choose for each queue; the length is the queue count.</summary>
    ReadOnlySpan<ushort> QueueMaxSizes { get; }

    /// <summary>Reads the device-specific configuration space (section 4.2.2: offset 0x100 on); bytes past its end read all-ones.</summary>
    void ReadConfig(int offset, Span<byte> data);

    /// <summary>Driver writes to the configuration space; a device ignores fields that are read-only.</summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> data);

    /// <summary>
    /// DRIVER_OK: the negotiated features and every queue the driver made ready, each already
    /// checked by <see cref="QueueConfig.Validate"/>. Returns null when the device runs, or why it
    /// cannot (the transport then sets DEVICE_NEEDS_RESET).
    /// </summary>
    string? Activate(VirtioActivation activation);

    /// <summary>The driver kicked <paramref name="queue"/> through the transport's notify register.</summary>
    void QueueNotify(int queue);

    /// <summary>The driver wrote 0 to the status: forget the activation, release the queues.</summary>
    void Reset();
}

/// <param name="Queues">One entry per queue of the device; null for a queue the driver left not ready.</param>
public sealed record VirtioActivation(GuestMemory Memory, ulong Features, IReadOnlyList<QueueConfig?> Queues, IVirtioTransport Transport);

/// <summary>What a running device can ask of its transport.</summary>
public interface IVirtioTransport
{
    /// <summary>Used buffer notification (section 2.3): the driver has used buffers to collect.</summary>
    void SignalUsedBuffers();

    /// <summary>The configuration space changed (section 2.5.1): a new ConfigGeneration and a notification.</summary>
    void SignalConfigChange();

    /// <summary>The device hit an error it cannot recover from without a reset (section 2.1.2).</summary>
    void NeedsReset(string why);
}
