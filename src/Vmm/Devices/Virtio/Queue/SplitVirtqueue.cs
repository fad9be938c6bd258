// The device side of a split virtqueue (virtio 1.2 section 2.7), for the queues the VMM serves
// itself (virtio-net's control queue, virtio-blk's request queues). The guest is hostile:
//  - every ring read goes through GuestMemory's one translation, on parts checked at activation
//    (QueueConfig.Validate) that stay valid because guest RAM never moves;
//  - every index and descriptor is read once into a local and checked there, since the guest can
//    rewrite its rings while the device reads them;
//  - a chain is walked at most Size steps (a loop or an over-long chain ends there), indirect
//    tables are one level deep and at most Size entries (2.7.5.3.1), and every buffer lies wholly
//    inside one region of RAM;
//  - a bad chain with a valid head is returned used with 0 bytes (that request fails); a bad
//    available ring leaves nothing to return, and the queue is then broken until the driver
//    resets the device. Nothing here throws on guest input or loops on it.
// VIRTIO_F_EVENT_IDX (section 2.7.7 "Used Buffer Notification Suppression" and 2.7.10
// "Available Buffer Notification Suppression") is honoured both ways when negotiated.
// Single consumer: one thread at a time pops and completes (the device's own lock or thread).
using System.Buffers.Binary;
using VSwitch.Vmm.Kvm;

namespace VSwitch.Vmm.Devices.Virtio.Queue;

/// <summary>What <see cref="SplitVirtqueue.Pop"/> found.</summary>
public enum PopOutcome
{
    /// <summary>Nothing new on the available ring.</summary>
    Empty,
    /// <summary>A chain, checked, for the device to serve and complete with AddUsed.</summary>
    Chain,
    /// <summary>A bad chain: counted, and already returned used with 0 bytes.</summary>
    Refused,
    /// <summary>A bad available ring: the queue is stopped until the device is reset.</summary>
    Broken,
}

/// <summary>Serves one chain the device took off the queue; returns how many bytes it wrote into the chain.</summary>
public delegate uint ChainServer(in DescriptorChain chain);

public sealed class SplitVirtqueue
{
    // Descriptor flags (section 2.7.5).
    public const ushort DescriptorNext = 1;
    public const ushort DescriptorWrite = 2;
    public const ushort DescriptorIndirect = 4;

    // avail.flags (2.7.6), for queues without EVENT_IDX.
    public const ushort AvailableNoInterrupt = 1;

    private readonly GuestMemory _memory;
    private readonly QueueConfig _config;
    private readonly bool _eventIdx;
    private readonly bool _indirectDescriptors;
    private readonly ChainBuffer[] _buffers; // one chain's buffers; a chain never has more than Size
    private readonly long[] _errors = new long[ChainErrors.Count];
    private ushort _nextAvailable;
    private ushort _nextUsed;
    private ushort _signalledUsed;
    private bool _signalledUsedValid;

    /// <param name="config">Checked by <see cref="QueueConfig.Validate"/> first; the constructor checks again and throws.</param>
    /// <param name="features">The negotiated feature bits: EVENT_IDX and INDIRECT_DESC matter here.</param>
    public SplitVirtqueue(GuestMemory memory, QueueConfig config, ulong features)
    {
        if (config.Validate(memory, QueueConfig.MaxSize) is string error)
            throw new ArgumentException(error, nameof(config));
        _memory = memory;
        _config = config;
        _eventIdx = (features & VirtioFeatures.RingEventIdx) != 0;
        _indirectDescriptors = (features & VirtioFeatures.RingIndirectDescriptors) != 0;
        _buffers = new ChainBuffer[config.Size];
    }

    public ushort Size => _config.Size;

    /// <summary>Set by a queue-level error; only a device reset (a new queue) clears it.</summary>
    public ChainError BrokenBy { get; private set; }

    /// <summary>How many times each <see cref="ChainError"/> happened, indexed by the enum.</summary>
    public ReadOnlySpan<long> Errors => _errors;

    /// <summary>
    /// Takes the next chain off the available ring. On <see cref="PopOutcome.Chain"/> the device
    /// serves <paramref name="chain"/> and returns it with <see cref="AddUsed"/> before the next
    /// Pop (the chain's buffer list is reused).
    /// </summary>
    public PopOutcome Pop(out DescriptorChain chain)
    {
        chain = default;
        if (BrokenBy != ChainError.None)
            return PopOutcome.Broken;
        ushort available = ReadAvailableIndex();
        if (available == _nextAvailable)
        {
            if (!_eventIdx)
                return PopOutcome.Empty;
            // Ask for a kick at the next entry, then look once more: the driver may have added
            // one before it could see the new avail_event (2.7.10's race).
            WriteU16(AvailEventAddress, _nextAvailable);
            Interlocked.MemoryBarrier();
            available = ReadAvailableIndex();
            if (available == _nextAvailable)
                return PopOutcome.Empty;
        }
        if ((ushort)(available - _nextAvailable) > _config.Size)
            return Break(ChainError.AvailableIndexTooFar);

        ushort head = ReadU16(_config.AvailableRing + 4 + 2UL * (uint)(_nextAvailable % _config.Size));
        if (head >= _config.Size)
            return Break(ChainError.HeadOutOfRange);
        _nextAvailable++;

        ChainError error = Walk(head, out int count, out int readable);
        if (error != ChainError.None)
        {
            _errors[(int)error]++;
            AddUsed(head, 0);
            return PopOutcome.Refused;
        }
        chain = new DescriptorChain(head, _buffers.AsSpan(0, count), readable);
        return PopOutcome.Chain;
    }

    /// <summary>
    /// Serves every chain on the available ring with <paramref name="serve"/> and returns each
    /// used, then tells the transport: a used-buffer interrupt when the driver wants one, a reset
    /// request (naming <paramref name="queueName"/>) when the available ring is broken. For the
    /// queues the VMM serves whole; <paramref name="serve"/> should be a cached delegate, so that
    /// serving allocates nothing.
    /// </summary>
    public void ServeAll(ChainServer serve, IVirtioTransport transport, string queueName)
    {
        while (true)
        {
            PopOutcome outcome = Pop(out DescriptorChain chain);
            if (outcome == PopOutcome.Chain)
            {
                AddUsed(chain.Head, serve(chain));
                continue;
            }
            if (outcome == PopOutcome.Refused)
                continue;
            if (outcome == PopOutcome.Broken)
                transport.NeedsReset($"{queueName}: {BrokenBy.Label()}");
            break;
        }
        if (NeedsInterrupt())
            transport.SignalUsedBuffers();
    }

    /// <summary>Returns chain <paramref name="head"/> to the driver with <paramref name="written"/> bytes written.</summary>
    public void AddUsed(ushort head, uint written)
    {
        ulong element = _config.UsedRing + 4 + 8UL * (uint)(_nextUsed % _config.Size);
        Span<byte> used = _memory.GetSpan(element, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(used, head);
        BinaryPrimitives.WriteUInt32LittleEndian(used[4..], written);
        // The element must be visible before the index that publishes it (2.7.8).
        Interlocked.MemoryBarrier();
        _nextUsed++;
        WriteU16(_config.UsedRing + 2, _nextUsed);
    }

    /// <summary>
    /// Whether the driver wants an interrupt for what was added since the last call (2.7.7): with
    /// EVENT_IDX when the used index passed used_event, else unless avail.flags says no.
    /// </summary>
    public bool NeedsInterrupt()
    {
        // The used index write must land before the driver's suppression field is read.
        Interlocked.MemoryBarrier();
        ushort previous = _signalledUsed;
        bool valid = _signalledUsedValid;
        _signalledUsed = _nextUsed;
        _signalledUsedValid = true;
        if (valid && previous == _nextUsed)
            return false; // nothing used since the last notification: nothing to tell
        if (!_eventIdx)
            return (ReadU16(_config.AvailableRing) & AvailableNoInterrupt) == 0;
        if (!valid)
            return true;
        ushort usedEvent = ReadU16(_config.AvailableRing + 4 + 2UL * _config.Size);
        // vring_need_event: notify when used_event lies in (previous, _nextUsed].
        return (ushort)(_nextUsed - usedEvent - 1) < (ushort)(_nextUsed - previous);
    }

    private ulong AvailEventAddress => _config.UsedRing + 4 + 8UL * _config.Size;

    private PopOutcome Break(ChainError error)
    {
        _errors[(int)error]++;
        BrokenBy = error;
        return PopOutcome.Broken;
    }

    // Copies the chain at head into _buffers, expanding an indirect table, checking every step.
    private ChainError Walk(ushort head, out int count, out int readable)
    {
        count = 0;
        readable = 0;
        ulong table = _config.DescriptorTable;
        int tableSize = _config.Size;
        bool inIndirect = false;
        ushort index = head;
        int steps = 0; // descriptors visited in the current table: a loop runs into tableSize
        while (true)
        {
            if (++steps > tableSize)
                return ChainError.TooLong;
            Span<byte> raw = _memory.GetSpan(table + (ulong)QueueConfig.DescriptorSize * index, QueueConfig.DescriptorSize);
            ulong address = BinaryPrimitives.ReadUInt64LittleEndian(raw);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(raw[12..]);
            ushort next = BinaryPrimitives.ReadUInt16LittleEndian(raw[14..]);

            if ((flags & DescriptorIndirect) != 0)
            {
                if (inIndirect)
                    return ChainError.NestedIndirect;
                if (!_indirectDescriptors)
                    return ChainError.IndirectNotNegotiated;
                if ((flags & DescriptorNext) != 0)
                    return ChainError.IndirectWithNext;
                if (length == 0 || length % QueueConfig.DescriptorSize != 0 || length / QueueConfig.DescriptorSize > _config.Size)
                    return ChainError.IndirectTableLength;
                if (!_memory.TryGetSpan(address, (int)length, out _))
                    return ChainError.IndirectTableOutsideMemory;
                table = address;
                tableSize = (int)(length / QueueConfig.DescriptorSize);
                inIndirect = true;
                index = 0;
                steps = 0;
                continue;
            }

            if (count == _buffers.Length)
                return ChainError.TooLong; // direct descriptors before an indirect table, plus the table
            if (length > int.MaxValue)
                return ChainError.BufferTooLong;
            if (!_memory.TryGetSpan(address, (int)length, out _))
                return ChainError.BufferOutsideMemory;
            bool writable = (flags & DescriptorWrite) != 0;
            if (!writable)
            {
                if (readable != count)
                    return ChainError.ReadableAfterWritable;
                readable++;
            }
            _buffers[count++] = new ChainBuffer(address, (int)length, writable);

            if ((flags & DescriptorNext) == 0)
                return ChainError.None;
            if (next >= tableSize)
                return ChainError.NextOutOfRange;
            index = next;
        }
    }

    private ushort ReadAvailableIndex()
    {
        ushort index = ReadU16(_config.AvailableRing + 2);
        // Ring entries up to this index must be read after it (2.7.13.3: the driver publishes the
        // index after the entries).
        Interlocked.MemoryBarrier();
        return index;
    }

    private ushort ReadU16(ulong address) => BinaryPrimitives.ReadUInt16LittleEndian(_memory.GetSpan(address, 2));

    private void WriteU16(ulong address, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_memory.GetSpan(address, 2), value);
}
