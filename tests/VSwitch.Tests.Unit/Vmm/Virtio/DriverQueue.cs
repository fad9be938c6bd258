// The driver's side of a split virtqueue, written straight into guest RAM the way Linux's
// virtio_ring lays it out, so device code is tested on real GuestMemory without a guest. Tests
// place descriptors by hand, including the ones no well-behaved driver writes.
using System.Buffers.Binary;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;

namespace VSwitch.Tests.Unit.Vmm.Virtio;

internal sealed class DriverQueue(GuestMemory memory, QueueConfig config)
{
    public const ushort Next = SplitVirtqueue.DescriptorNext;
    public const ushort Write = SplitVirtqueue.DescriptorWrite;
    public const ushort Indirect = SplitVirtqueue.DescriptorIndirect;

    private ushort _availableIndex;

    public void Descriptor(int index, ulong address, uint length, ushort flags = 0, ushort next = 0) =>
        WriteDescriptor(config.DescriptorTable + 16UL * (uint)index, address, length, flags, next);

    /// <summary>A descriptor of an indirect table at <paramref name="table"/>.</summary>
    public void IndirectDescriptor(ulong table, int index, ulong address, uint length, ushort flags = 0, ushort next = 0) =>
        WriteDescriptor(table + 16UL * (uint)index, address, length, flags, next);

    /// <summary>Puts <paramref name="head"/> on the available ring and publishes it.</summary>
    public void Publish(ushort head)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(memory.GetSpan(config.AvailableRing + 4 + 2UL * (uint)(_availableIndex % config.Size), 2), head);
        SetAvailableIndex(++_availableIndex);
    }

    public void SetAvailableIndex(ushort index)
    {
        _availableIndex = index;
        BinaryPrimitives.WriteUInt16LittleEndian(memory.GetSpan(config.AvailableRing + 2, 2), index);
    }

    public ushort AvailableFlags
    {
        set => BinaryPrimitives.WriteUInt16LittleEndian(memory.GetSpan(config.AvailableRing, 2), value);
    }

    public ushort UsedEvent
    {
        set => BinaryPrimitives.WriteUInt16LittleEndian(memory.GetSpan(config.AvailableRing + 4 + 2UL * config.Size, 2), value);
    }

    public ushort AvailEvent => BinaryPrimitives.ReadUInt16LittleEndian(memory.GetSpan(config.UsedRing + 4 + 8UL * config.Size, 2));

    public ushort UsedIndex => BinaryPrimitives.ReadUInt16LittleEndian(memory.GetSpan(config.UsedRing + 2, 2));

    /// <summary>The used ring's entry <paramref name="index"/>: (chain head, bytes written).</summary>
    public (uint Head, uint Written) Used(int index)
    {
        Span<byte> element = memory.GetSpan(config.UsedRing + 4 + 8UL * (uint)(index % config.Size), 8);
        return (BinaryPrimitives.ReadUInt32LittleEndian(element), BinaryPrimitives.ReadUInt32LittleEndian(element[4..]));
    }

    private void WriteDescriptor(ulong at, ulong address, uint length, ushort flags, ushort next)
    {
        Span<byte> raw = memory.GetSpan(at, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(raw, address);
        BinaryPrimitives.WriteUInt32LittleEndian(raw[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(raw[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(raw[14..], next);
    }
}
