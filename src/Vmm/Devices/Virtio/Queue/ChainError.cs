// Why a split virtqueue refused what the driver posted (virtio 1.2 sections 2.7.5 "The Virtqueue
// Descriptor Table", 2.7.5.3 "Indirect Descriptors", 2.7.6 "The Virtqueue Available Ring").
// Each is a driver requirement the guest broke; the queue counts it and never throws. A refused
// chain whose head is a valid index goes back to the driver as used with 0 bytes written (the
// request fails, the device lives on); the two queue-level errors leave no head to return, so the
// device needs a reset (section 2.1.2 "Device Status Field", DEVICE_NEEDS_RESET).
namespace VSwitch.Vmm.Devices.Virtio.Queue;

public enum ChainError
{
    None,

    // Chain-level: the request fails.

    /// <summary>A descriptor's next field is not below the queue (or indirect table) size.</summary>
    NextOutOfRange,
    /// <summary>More descriptors than the queue size: a loop, or a chain the spec forbids (2.7.5.2).</summary>
    TooLong,
    /// <summary>A buffer's address and length are not wholly inside one region of guest RAM.</summary>
    BufferOutsideMemory,
    /// <summary>A buffer longer than 2 GiB: no virtio request needs one, and lengths are summed in 32 bits on the wire.</summary>
    BufferTooLong,
    /// <summary>A device-readable descriptor after a device-writable one (2.7.4.2).</summary>
    ReadableAfterWritable,
    /// <summary>VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated (2.7.5.3.1).</summary>
    IndirectNotNegotiated,
    /// <summary>VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT (2.7.5.3.1).</summary>
    IndirectWithNext,
    /// <summary>VIRTQ_DESC_F_INDIRECT inside an indirect table (2.7.5.3.1).</summary>
    NestedIndirect,
    /// <summary>An indirect table whose length is 0, not a multiple of 16, or over the queue size in entries.</summary>
    IndirectTableLength,
    /// <summary>An indirect table not wholly inside one region of guest RAM.</summary>
    IndirectTableOutsideMemory,

    // Queue-level: the device needs a reset.

    /// <summary>An available ring entry that is not a descriptor index: there is no head to return.</summary>
    HeadOutOfRange,
    /// <summary>avail.idx moved more than the queue size past what the device has taken.</summary>
    AvailableIndexTooFar,
}

public static class ChainErrors
{
    public static readonly int Count = Enum.GetValues<ChainError>().Length;

    /// <summary>The name used in logs and metrics: snake_case of the enum name.</summary>
    public static string Label(this ChainError error) => s_labels[(int)error];

    private static readonly string[] s_labels = [.. Enum.GetValues<ChainError>().Select(e =>
        string.Concat(e.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString())))];
}
