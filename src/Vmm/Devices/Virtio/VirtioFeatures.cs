// Feature bits and status bits every virtio device shares (virtio 1.2 section 6 "Reserved
// Feature Bits" and section 2.1 "Device Status Field"), and the device type IDs (section 5).
namespace VSwitch.Vmm.Devices.Virtio;

public static class VirtioFeatures
{
    /// <summary>VIRTIO_F_INDIRECT_DESC (28): descriptors may point at an indirect table (2.7.5.3).</summary>
    public const ulong RingIndirectDescriptors = 1UL << 28;

    /// <summary>VIRTIO_F_EVENT_IDX (29): used_event / avail_event notification suppression (2.7.7, 2.7.10).</summary>
    public const ulong RingEventIdx = 1UL << 29;

    /// <summary>VIRTIO_F_VERSION_1 (32): the device follows virtio 1.x, not the legacy interface; this VMM offers nothing else.</summary>
    public const ulong Version1 = 1UL << 32;
}

/// <summary>Device status bits (section 2.1): the driver sets them in order, the device may set NeedsReset.</summary>
[Flags]
public enum DeviceStatus : uint
{
    Reset = 0,
    Acknowledge = 1,
    Driver = 2,
    DriverOk = 4,
    FeaturesOk = 8,
    NeedsReset = 64,
    Failed = 128,
}

/// <summary>Virtio device IDs (section 5).</summary>
public enum VirtioDeviceType : uint
{
    Net = 1,
    Block = 2,
}
