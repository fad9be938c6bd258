// The split virtqueue against a hostile driver: every way virtio 1.2 section 2.7 lets a driver
// go wrong is posted on real guest RAM, each beside a good chain that must still be served.
using VSwitch.Vmm.Devices.Virtio;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Virtio;

public sealed class SplitVirtqueueTests : IDisposable
{
    // RAM [0, 64 KiB) and [128 KiB, 192 KiB), a hole between, nothing above.
    private const ulong Hole = 0x1_8000;
    private const ulong Top = 0x3_0000;
    private const ulong Table = 0x4000; // an indirect table
    private static readonly QueueConfig s_config = new(8, 0x1000, 0x2000, 0x3000);

    private readonly GuestMemory _memory = GuestMemory.Create([(0UL, 0x1_0000UL), (0x2_0000UL, 0x1_0000UL)]);
    private readonly DriverQueue _driver;

    public SplitVirtqueueTests() => _driver = new DriverQueue(_memory, s_config);

    public void Dispose() => _memory.Dispose();

    private SplitVirtqueue Queue(ulong features = VirtioFeatures.Version1) => new(_memory, s_config, features);

    [Fact]
    public void A_chain_comes_out_readable_first_and_goes_back_with_the_bytes_written()
    {
        _memory.Write(0x8000, "hello"u8);
        _driver.Descriptor(3, 0x8000, 5, DriverQueue.Next, 5);
        _driver.Descriptor(5, 0x20000, 100, DriverQueue.Write | DriverQueue.Next, 6);
        _driver.Descriptor(6, 0x9000, 28, DriverQueue.Write);
        _driver.Publish(3);
        SplitVirtqueue queue = Queue();

        Assert.Equal(PopOutcome.Chain, queue.Pop(out DescriptorChain chain));
        Assert.Equal(3, chain.Head);
        Assert.Equal([new ChainBuffer(0x8000, 5, false), new ChainBuffer(0x20000, 100, true), new ChainBuffer(0x9000, 28, true)], chain.Buffers.ToArray());
        Assert.Equal(5, chain.ReadableBytes);
        Assert.Equal(128, chain.WritableBytes);
        byte[] read = new byte[16];
        Assert.Equal(5, chain.Read(_memory, 0, read));
        Assert.Equal("hello"u8.ToArray(), read[..5]);
        // A write that spans the two writable buffers lands in both.
        Assert.Equal(10, chain.Write(_memory, 95, "0123456789"u8));
        Assert.Equal("01234"u8.ToArray(), _memory.GetSpan(0x20000 + 95, 5).ToArray());
        Assert.Equal("56789"u8.ToArray(), _memory.GetSpan(0x9000, 5).ToArray());
        queue.AddUsed(chain.Head, 105);

        Assert.Equal(1, _driver.UsedIndex);
        Assert.Equal((3u, 105u), _driver.Used(0));
        Assert.Equal(PopOutcome.Empty, queue.Pop(out _));
    }

    public static TheoryData<string, ulong, uint> OutsideRam => new()
    {
        { "in the MMIO hole", Hole, 16 },
        { "above the top of RAM", Top, 16 },
        { "ending past the top", Top - 8, 16 },
        { "wrapping at 2^64", ulong.MaxValue - 7, 32 },
        { "across a region's edge", 0xfff8, 16 },
    };

    [Theory]
    [MemberData(nameof(OutsideRam))]
    public void A_buffer_outside_ram_fails_that_request_and_the_next_one_is_served(string where, ulong address, uint length)
    {
        _driver.Descriptor(0, 0x8000, 8, DriverQueue.Next, 1);
        _driver.Descriptor(1, address, length, DriverQueue.Write);
        _driver.Descriptor(2, 0x8000, 8); // the positive control
        _driver.Publish(0);
        _driver.Publish(2);
        SplitVirtqueue queue = Queue();

        Assert.True(PopOutcome.Refused == queue.Pop(out _), where);
        Assert.Equal((0u, 0u), _driver.Used(0));
        Assert.Equal(1, queue.Errors[(int)ChainError.BufferOutsideMemory]);
        Assert.Equal(PopOutcome.Chain, queue.Pop(out DescriptorChain good));
        Assert.Equal(2, good.Head);
    }

    [Fact]
    public void A_looping_chain_is_refused_after_at_most_queue_size_steps()
    {
        _driver.Descriptor(0, 0x8000, 8, DriverQueue.Next, 1);
        _driver.Descriptor(1, 0x8100, 8, DriverQueue.Next, 0);
        _driver.Descriptor(2, 0x8000, 8);
        _driver.Publish(0);
        _driver.Publish(2);
        SplitVirtqueue queue = Queue();

        Assert.Equal(PopOutcome.Refused, queue.Pop(out _));
        Assert.Equal(1, queue.Errors[(int)ChainError.TooLong]);
        Assert.Equal(PopOutcome.Chain, queue.Pop(out _));
    }

    [Fact]
    public void A_chain_through_every_descriptor_is_served_and_one_more_is_too_long()
    {
        for (int i = 0; i < s_config.Size; i++)
            _driver.Descriptor(i, 0x8000 + 64UL * (uint)i, 64, DriverQueue.Next, (ushort)(i + 1));
        _driver.Descriptor(s_config.Size - 1, 0x8000, 64); // the last ends the chain
        _driver.Publish(0);
        SplitVirtqueue queue = Queue();
        Assert.Equal(PopOutcome.Chain, queue.Pop(out DescriptorChain chain));
        Assert.Equal(s_config.Size, chain.Buffers.Length);
        queue.AddUsed(chain.Head, 0);

        _driver.Descriptor(s_config.Size - 1, 0x8000, 64, DriverQueue.Next, 0); // ... or loops to the head
        _driver.Publish(0);
        Assert.Equal(PopOutcome.Refused, queue.Pop(out _));
        Assert.Equal(1, queue.Errors[(int)ChainError.TooLong]);
    }

    [Fact]
    public void Next_past_the_table_fails_the_request()
    {
        _driver.Descriptor(0, 0x8000, 8, DriverQueue.Next, s_config.Size);
        _driver.Publish(0);
        SplitVirtqueue queue = Queue();
        Assert.Equal(PopOutcome.Refused, queue.Pop(out _));
        Assert.Equal(1, queue.Errors[(int)ChainError.NextOutOfRange]);
    }

    [Fact]
    public void A_readable_buffer_after_a_writable_one_fails_the_request()
    {
        _driver.Descriptor(0, 0x9000, 8, DriverQueue.Write | DriverQueue.Next, 1);
        _driver.Descriptor(1, 0x8000, 8);
        _driver.Publish(0);
        SplitVirtqueue queue = Queue();
        Assert.Equal(PopOutcome.Refused, queue.Pop(out _));
        Assert.Equal(1, queue.Errors[(int)ChainError.ReadableAfterWritable]);
    }

    [Fact]
    public void A_buffer_over_2_GiB_fails_the_request()
    {
        _driver.Descriptor(0, 0, 0x8000_0000);
        _driver.Publish(0);
        SplitVirtqueue queue = Queue();
        Assert.Equal(PopOutcome.Refused, queue.Pop(out _));
        Assert.Equal(1, queue.Errors[(int)ChainError.BufferTooLong]);
    }

    [Fact]
    public void An_indirect_table_is_expanded_after_the_direct_descriptors_before_it()
    {
        _driver.Descriptor(0, 0x8000, 4, DriverQueue.Next, 1);
        _driver.Descriptor(1, Table, 48, DriverQueue.Indirect);
        _driver.IndirectDescriptor(Table, 0, 0x8100, 4, DriverQueue.Next, 2);
        _driver.IndirectDescriptor(Table, 2, 0x9000, 1, DriverQueue.Write | DriverQueue.Next, 1);
        _driver.IndirectDescriptor(Table, 1, 0x20000, 4096, DriverQueue.Write);
        _driver.Publish(0);
        SplitVirtqueue queue = Queue(VirtioFeatures.Version1 | VirtioFeatures.RingIndirectDescriptors);

        Assert.Equal(PopOutcome.Chain, queue.Pop(out DescriptorChain chain));
        Assert.Equal([new ChainBuffer(0x8000, 4, false), new ChainBuffer(0x8100, 4, false), new ChainBuffer(0x9000, 1, true), new ChainBuffer(0x20000, 4096, true)],
            chain.Buffers.ToArray());
    }

    public static TheoryData<string, ChainError, bool, ulong, uint, ushort> BadIndirect => new()
    {
        { "without INDIRECT_DESC negotiated", ChainError.IndirectNotNegotiated, false, Table, 32, DriverQueue.Indirect },
        { "with NEXT", ChainError.IndirectWithNext, true, Table, 32, DriverQueue.Indirect | DriverQueue.Next },
        { "of length 0", ChainError.IndirectTableLength, true, Table, 0, DriverQueue.Indirect },
        { "of a length not a multiple of 16", ChainError.IndirectTableLength, true, Table, 40, DriverQueue.Indirect },
        { "longer than the queue", ChainError.IndirectTableLength, true, Table, 16 * 9, DriverQueue.Indirect },
        { "in the MMIO hole", ChainError.IndirectTableOutsideMemory, true, Hole, 32, DriverQueue.Indirect },
        { "across a region's edge", ChainError.IndirectTableOutsideMemory, true, 0xfff0, 32, DriverQueue.Indirect },
    };

    [Theory]
    [MemberData(nameof(BadIndirect))]
    public void A_bad_indirect_descriptor_fails_that_request(string what, ChainError expected, bool negotiated, ulong table, uint length, ushort flags)
    {
        _driver.IndirectDescriptor(Table, 0, 0x8000, 8, DriverQueue.Next, 1);
        _driver.IndirectDescriptor(Table, 1, 0x9000, 8, DriverQueue.Write);
        _driver.Descriptor(0, table, length, flags, 1);
        _driver.Descriptor(1, 0x8000, 8);
        _driver.Descriptor(2, 0x8000, 8);
        _driver.Publish(0);
        _driver.Publish(2);
        SplitVirtqueue queue = Queue(VirtioFeatures.Version1 | (negotiated ? VirtioFeatures.RingIndirectDescriptors : 0));

        Assert.True(PopOutcome.Refused == queue.Pop(out _), what);
        Assert.Equal(1, queue.Errors[(int)expected]);
        Assert.Equal(PopOutcome.Chain, queue.Pop(out _));
    }

    [Fact]
    public void Indirect_inside_indirect_and_a_loop_inside_a_table_fail_the_request()
    {
        _driver.IndirectDescriptor(Table, 0, 0x8000, 8, DriverQueue.Next, 1);
        _driver.IndirectDescriptor(Table, 1, Table, 32, DriverQueue.Indirect);
        _driver.IndirectDescriptor(Table + 0x100, 0, 0x8000, 8, DriverQueue.Next, 1);
        _driver.IndirectDescriptor(Table + 0x100, 1, 0x8000, 8, DriverQueue.Next, 0);
        _driver.Descriptor(0, Table, 32, DriverQueue.Indirect);
        _driver.Descriptor(1, Table + 0x100, 32, DriverQueue.Indirect);
        _driver.Publish(0);
        _driver.Publish(1);
        SplitVirtqueue queue = Queue(VirtioFeatures.Version1 | VirtioFeatures.RingIndirectDescriptors);

        Assert.Equal(PopOutcome.Refused, queue.Pop(out _));
        Assert.Equal(PopOutcome.Refused, queue.Pop(out _));
        Assert.Equal(1, queue.Errors[(int)ChainError.NestedIndirect]);
        Assert.Equal(1, queue.Errors[(int)ChainError.TooLong]);
        Assert.Equal(2, _driver.UsedIndex);
    }

    [Fact]
    public void A_head_that_is_no_descriptor_breaks_the_queue_until_a_reset()
    {
        _driver.Descriptor(0, 0x8000, 8);
        _driver.Publish(s_config.Size);
        _driver.Publish(0);
        SplitVirtqueue queue = Queue();

        Assert.Equal(PopOutcome.Broken, queue.Pop(out _));
        Assert.Equal(ChainError.HeadOutOfRange, queue.BrokenBy);
        Assert.Equal(PopOutcome.Broken, queue.Pop(out _));
        Assert.Equal(0, _driver.UsedIndex);
    }

    [Fact]
    public void An_available_index_more_than_a_queue_ahead_breaks_the_queue()
    {
        _driver.Descriptor(0, 0x8000, 8);
        _driver.SetAvailableIndex((ushort)(s_config.Size + 1));
        SplitVirtqueue queue = Queue();
        Assert.Equal(PopOutcome.Broken, queue.Pop(out _));
        Assert.Equal(ChainError.AvailableIndexTooFar, queue.BrokenBy);
    }

    [Fact]
    public void Without_event_idx_the_driver_turns_interrupts_off_with_avail_flags()
    {
        _driver.Descriptor(0, 0x8000, 8);
        SplitVirtqueue queue = Queue();
        _driver.Publish(0);
        Assert.Equal(PopOutcome.Chain, queue.Pop(out DescriptorChain chain));
        queue.AddUsed(chain.Head, 0);
        Assert.True(queue.NeedsInterrupt());

        _driver.AvailableFlags = SplitVirtqueue.AvailableNoInterrupt;
        _driver.Publish(0);
        Assert.Equal(PopOutcome.Chain, queue.Pop(out chain));
        queue.AddUsed(chain.Head, 0);
        Assert.False(queue.NeedsInterrupt());
    }

    [Fact]
    public void With_event_idx_an_interrupt_comes_only_when_the_used_index_passes_used_event()
    {
        _driver.Descriptor(0, 0x8000, 8);
        SplitVirtqueue queue = Queue(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx);
        _driver.UsedEvent = 2; // "interrupt me once used.idx passes 2", i.e. at the third completion
        for (int i = 1; i <= 4; i++)
        {
            _driver.Publish(0);
            Assert.Equal(PopOutcome.Chain, queue.Pop(out DescriptorChain chain));
            queue.AddUsed(chain.Head, 0);
            Assert.True((i is 1 or 3) == queue.NeedsInterrupt(), $"completion {i}"); // the first always signals
        }
    }

    [Fact]
    public void With_event_idx_an_empty_queue_asks_for_a_kick_at_the_next_entry()
    {
        _driver.Descriptor(0, 0x8000, 8);
        SplitVirtqueue queue = Queue(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx);
        _driver.Publish(0);
        _driver.Publish(0);
        while (queue.Pop(out DescriptorChain chain) == PopOutcome.Chain)
            queue.AddUsed(chain.Head, 0);
        Assert.Equal(2, _driver.AvailEvent);
    }

    [Theory]
    [InlineData(0, "QueueNum 0 must be a power of 2 from 1 to 256")]
    [InlineData(12, "QueueNum 12 must be a power of 2")]
    [InlineData(512, "QueueNum 512 must be a power of 2 from 1 to 256")]
    public void Activation_refuses_a_queue_size_that_is_no_power_of_2_or_too_big(int size, string message) =>
        Assert.StartsWith(message, new QueueConfig((ushort)size, 0x1000, 0x2000, 0x3000).Validate(_memory, 256));

    [Theory]
    [InlineData(0x1008UL, 0x2000UL, 0x3000UL, "QueueDesc (descriptor table) 0x1008 is not 16-byte aligned")]
    [InlineData(0x1000UL, 0x2001UL, 0x3000UL, "QueueDriver (available ring) 0x2001 is not 2-byte aligned")]
    [InlineData(0x1000UL, 0x2000UL, 0x3002UL, "QueueDevice (used ring) 0x3002 is not 4-byte aligned")]
    [InlineData(0x18000UL, 0x2000UL, 0x3000UL, "QueueDesc (descriptor table) [0x18000, +128) is not inside one region of guest RAM")]
    [InlineData(0x1000UL, 0xfff0UL, 0x3000UL, "QueueDriver (available ring) [0xfff0, +22) is not inside one region of guest RAM")]
    [InlineData(0x1000UL, 0x2000UL, 0x2fff8UL, "QueueDevice (used ring) [0x2fff8, +70) is not inside one region of guest RAM")]
    [InlineData(0x1000UL, 0x2000UL, 0xffff_ffff_ffff_fffcUL, "QueueDevice (used ring) [0xfffffffffffffffc, +70) is not inside one region of guest RAM")]
    public void Activation_refuses_misaligned_rings_and_rings_outside_ram(ulong desc, ulong driver, ulong device, string message) =>
        Assert.Equal(message, new QueueConfig(8, desc, driver, device).Validate(_memory, 256));

    [Fact]
    public void Every_chain_error_has_a_snake_case_label()
    {
        Assert.Equal("available_index_too_far", ChainError.AvailableIndexTooFar.Label());
        Assert.Equal(ChainErrors.Count, Enum.GetValues<ChainError>().Select(e => e.Label()).Distinct().Count());
    }
}
