// What a driver programs for one split virtqueue before it sets DRIVER_OK (virtio 1.2 section
// 2.7 "Split Virtqueues", table "Virtqueue Part / Alignment / Size"), and the check that makes
// it safe to use: every part aligned and wholly inside one region of guest RAM.
using VSwitch.Vmm.Kvm;

namespace VSwitch.Vmm.Devices.Virtio.Queue;

/// <summary>A split virtqueue's size and the guest-physical addresses of its three parts.</summary>
/// <param name="Size">Entries in each ring (QueueNum): a power of 2, at most the device's maximum.</param>
/// <param name="DescriptorTable">16-byte aligned, 16 * Size bytes (QueueDesc).</param>
/// <param name="AvailableRing">2-byte aligned, 6 + 2 * Size bytes (QueueDriver).</param>
/// <param name="UsedRing">4-byte aligned, 6 + 8 * Size bytes (QueueDevice).</param>
public readonly record struct QueueConfig(ushort Size, ulong DescriptorTable, ulong AvailableRing, ulong UsedRing)
{
    /// <summary>The largest Queue Size a split virtqueue can have (section 2.7).</summary>
    public const int MaxSize = 32768;

    public const int DescriptorSize = 16;

    public int DescriptorTableBytes => DescriptorSize * Size;

    // flags, idx, ring[Size], used_event
    public int AvailableRingBytes => 2 + 2 + 2 * Size + 2;

    // flags, idx, ring[Size] of (id, len), avail_event
    public int UsedRingBytes => 2 + 2 + 8 * Size + 2;

    /// <summary>
    /// Null when the queue can be used with <paramref name="memory"/>; otherwise why not, naming
    /// the register the driver got wrong (the transport reports it and sets DEVICE_NEEDS_RESET).
    /// </summary>
    public string? Validate(GuestMemory memory, int maxSize)
    {
        if (Size == 0 || Size > maxSize || (Size & (Size - 1)) != 0)
            return $"QueueNum {Size} must be a power of 2 from 1 to {maxSize}";
        return CheckPart(memory, "QueueDesc (descriptor table)", DescriptorTable, 16, DescriptorTableBytes)
            ?? CheckPart(memory, "QueueDriver (available ring)", AvailableRing, 2, AvailableRingBytes)
            ?? CheckPart(memory, "QueueDevice (used ring)", UsedRing, 4, UsedRingBytes);
    }

    private static string? CheckPart(GuestMemory memory, string register, ulong address, ulong alignment, int length)
    {
        if (address % alignment != 0)
            return $"{register} 0x{address:x} is not {alignment}-byte aligned";
        return memory.TryGetSpan(address, length, out _)
            ? null
            : $"{register} [0x{address:x}, +{length}) is not inside one region of guest RAM";
    }
}
