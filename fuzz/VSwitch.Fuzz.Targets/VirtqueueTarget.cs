// The VMM's split virtqueue (src/Vmm/Devices/Virtio/Queue) and virtio-net's control queue on
// top of it, fed ring contents a hostile guest could write. Guest RAM is real (a memfd, as the VMM
// has it) with a hole and a top, so addresses can fall in RAM, in the hole, past the end, across
// a region's edge, or wrap at 2^64. The input, in order:
//   u8 size exponent (queue size 1 << (b % 8)), u8 flags (bit 0 EVENT_IDX, bit 1 INDIRECT_DESC),
//   le16 avail.idx, le16 used_event, then the descriptor table (16 bytes a descriptor), the
//   available ring entries (le16 each), and whatever remains as the contents of the indirect
//   area at IndirectArea (where seeds point their indirect descriptors).
// Missing bytes read as zero. Invariants: nothing throws, the device pops at most one queue's
// worth, every chain it hands out lies in RAM with readable buffers first and at most Size of
// them, and every chain taken is returned exactly once (used.idx counts them).
using System.Buffers.Binary;
using VSwitch.Vmm.Devices.Virtio;
using VSwitch.Vmm.Devices.Virtio.Net;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;

namespace VSwitch.Fuzz.Targets;

public static class VirtqueueTarget
{
    // RAM [0, 64 KiB) and [128 KiB, 192 KiB): a hole between, nothing above.
    public const ulong LowTop = 0x1_0000;
    public const ulong HighBase = 0x2_0000;
    public const ulong HighTop = 0x3_0000;
    public const ulong DescriptorTable = 0x1000;
    public const ulong AvailableRing = 0x2000;
    public const ulong UsedRing = 0x3000;
    public const ulong IndirectArea = 0x4000;
    public const int IndirectAreaSize = 0x4000;

    [ThreadStatic] private static GuestMemory? t_memory;

    /// <summary>The guest RAM every run uses, zeroed at the start of each.</summary>
    public static GuestMemory Memory => t_memory ??= GuestMemory.Create([(0UL, LowTop), (HighBase, HighTop - HighBase)]);

    /// <summary>Pops and completes chains the way a device serving the queue does.</summary>
    public static void Run(ReadOnlySpan<byte> input)
    {
        SplitVirtqueue queue = Load(input, out int published);
        int taken = 0;
        Span<byte> scratch = stackalloc byte[64];
        for (int pops = 0; ; pops++)
        {
            Invariants.Check(pops <= queue.Size, $"{pops} pops from a queue of {queue.Size} with {published} published");
            PopOutcome outcome = queue.Pop(out DescriptorChain chain);
            if (outcome is PopOutcome.Empty or PopOutcome.Broken)
                break;
            taken++;
            if (outcome == PopOutcome.Chain)
            {
                CheckChain(queue, chain);
                // Serve it as a device would: read the request, write a reply.
                chain.Read(Memory, 0, scratch);
                int written = chain.Write(Memory, 0, scratch);
                queue.AddUsed(chain.Head, (uint)written);
            }
        }
        queue.NeedsInterrupt();
        ushort usedIndex = BinaryPrimitives.ReadUInt16LittleEndian(Memory.GetSpan(UsedRing + 2, 2));
        Invariants.Check(usedIndex == taken, $"used.idx {usedIndex} after {taken} chains taken");
    }

    /// <summary>The same ring contents as virtio-net's control queue.</summary>
    public static void RunNetControl(ReadOnlySpan<byte> input)
    {
        SplitVirtqueue queue = Load(input, out _);
        var transport = new CountingTransport();
        var control = new NetControlQueue(queue, Memory, maxQueuePairs: 4, setQueuePairs: pairs =>
        {
            Invariants.Check(pairs is >= 1 and <= 4, $"{pairs} queue pairs passed to the backend");
            return true;
        });
        control.Process(transport);
        long served = 0;
        foreach (long count in control.Outcomes)
            served += count;
        long refused = 0;
        foreach (long count in queue.Errors)
            refused += count;
        if (queue.BrokenBy != ChainError.None)
            refused--; // the error that broke the queue returned no chain
        ushort usedIndex = BinaryPrimitives.ReadUInt16LittleEndian(Memory.GetSpan(UsedRing + 2, 2));
        Invariants.Check(usedIndex == served + refused, $"used.idx {usedIndex} after {served} served and {refused} refused");
        Invariants.Check((queue.BrokenBy != ChainError.None) == (transport.ResetRequests == 1),
            $"queue broken by {queue.BrokenBy}, {transport.ResetRequests} reset requests");
    }

    private static SplitVirtqueue Load(ReadOnlySpan<byte> input, out int published)
    {
        GuestMemory memory = Memory;
        foreach (GuestMemoryRegion region in memory.Regions)
            memory.GetSpan(region.GuestAddress, (int)region.Size).Clear(); // the last input's writes must not leak into this one
        var reader = new InputReader(input);
        ushort size = (ushort)(1 << (reader.Byte() % 8));
        byte flags = reader.Byte();
        ushort availableIndex = reader.UInt16();
        ushort usedEvent = reader.UInt16();
        reader.CopyTo(memory.GetSpan(DescriptorTable, QueueConfig.DescriptorSize * size));
        reader.CopyTo(memory.GetSpan(AvailableRing + 4, 2 * size));
        reader.CopyTo(memory.GetSpan(IndirectArea, IndirectAreaSize));
        BinaryPrimitives.WriteUInt16LittleEndian(memory.GetSpan(AvailableRing + 2, 2), availableIndex);
        BinaryPrimitives.WriteUInt16LittleEndian(memory.GetSpan(AvailableRing + 4 + 2UL * size, 2), usedEvent);
        ulong features = VirtioFeatures.Version1
            | ((flags & 1) != 0 ? VirtioFeatures.RingEventIdx : 0)
            | ((flags & 2) != 0 ? VirtioFeatures.RingIndirectDescriptors : 0);
        published = availableIndex;
        return new SplitVirtqueue(memory, new QueueConfig(size, DescriptorTable, AvailableRing, UsedRing), features);
    }

    private static void CheckChain(SplitVirtqueue queue, in DescriptorChain chain)
    {
        Invariants.Check(chain.Head < queue.Size, $"head {chain.Head} of a queue of {queue.Size}");
        Invariants.Check(chain.Buffers.Length is > 0 && chain.Buffers.Length <= queue.Size,
            $"{chain.Buffers.Length} buffers in a chain of a queue of {queue.Size}");
        for (int i = 0; i < chain.Buffers.Length; i++)
        {
            ChainBuffer buffer = chain.Buffers[i];
            Invariants.Check(Memory.TryGetSpan(buffer.Address, buffer.Length, out _),
                $"buffer {i} [0x{buffer.Address:x}, +{buffer.Length}) is not in guest RAM");
            Invariants.Check(buffer.DeviceWritable == i >= chain.ReadableCount, $"buffer {i} is on the wrong side of the readable/writable split");
        }
    }

    private sealed class CountingTransport : IVirtioTransport
    {
        public int ResetRequests;
        public void SignalUsedBuffers() { }
        public void SignalConfigChange() { }
        public void NeedsReset(string why) => ResetRequests++;
    }

    private ref struct InputReader(ReadOnlySpan<byte> input)
    {
        private ReadOnlySpan<byte> _rest = input;

        public byte Byte()
        {
            Span<byte> one = stackalloc byte[1];
            CopyTo(one);
            return one[0];
        }

        public ushort UInt16()
        {
            Span<byte> two = stackalloc byte[2];
            CopyTo(two);
            return BinaryPrimitives.ReadUInt16LittleEndian(two);
        }

        /// <summary>Fills <paramref name="destination"/> from the input; past its end with zeros.</summary>
        public void CopyTo(scoped Span<byte> destination)
        {
            int take = Math.Min(_rest.Length, destination.Length);
            _rest[..take].CopyTo(destination);
            destination[take..].Clear();
            _rest = _rest[take..];
        }
    }
}
