// virtio-net's control queue as the VMM serves it (virtio 1.2 section 5.1.6.5): what it accepts,
// what it answers VIRTIO_NET_ERR, and requests a hostile driver shapes badly.
using VSwitch.Vmm.Devices.Virtio;
using VSwitch.Vmm.Devices.Virtio.Net;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Virtio;

public sealed class NetControlQueueTests : IDisposable
{
    private const ulong Request = 0x8000, Ack = 0x9000;
    private static readonly QueueConfig s_config = new(16, 0x1000, 0x2000, 0x3000);
    private readonly GuestMemory _memory = GuestMemory.Create(0x1_0000);
    private readonly DriverQueue _driver;
    private readonly NetControlQueue _control;
    private readonly List<int> _pairs = [];
    private readonly RecordingTransport _transport = new();
    private bool _backendRefuses;

    public NetControlQueueTests()
    {
        _driver = new DriverQueue(_memory, s_config);
        _control = new NetControlQueue(new SplitVirtqueue(_memory, s_config, VirtioFeatures.Version1), _memory, maxQueuePairs: 4, pairs =>
        {
            _pairs.Add(pairs);
            return !_backendRefuses;
        });
    }

    public void Dispose() => _memory.Dispose();

    /// <summary>Posts one request with a 1-byte ack, serves the queue, returns the ack.</summary>
    private byte Send(params byte[] request)
    {
        _memory.Write(Request, request);
        _memory.Write(Ack, [0xaa]);
        _driver.Descriptor(0, Request, (uint)request.Length, DriverQueue.Next, 1);
        _driver.Descriptor(1, Ack, 1, DriverQueue.Write);
        _driver.Publish(0);
        _control.Process(_transport);
        return _memory.GetSpan(Ack, 1)[0];
    }

    private long Count(ControlOutcome outcome) => _control.Outcomes[(int)outcome];

    [Fact]
    public void Setting_queue_pairs_enables_them_at_the_backend()
    {
        Assert.Equal(NetControlQueue.Ok, Send(NetControlQueue.ClassMq, NetControlQueue.MqVqPairsSet, 3, 0));
        Assert.Equal([3], _pairs);
        Assert.Equal((0u, 1u), _driver.Used(0));
        Assert.Equal(1, _transport.Interrupts);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(0xffff)]
    public void A_queue_pair_count_outside_one_to_the_maximum_is_an_error(int pairs)
    {
        Assert.Equal(NetControlQueue.Err, Send(NetControlQueue.ClassMq, NetControlQueue.MqVqPairsSet, (byte)pairs, (byte)(pairs >> 8)));
        Assert.Empty(_pairs);
        Assert.Equal(1, Count(ControlOutcome.BadArgument));
    }

    [Fact]
    public void A_backend_that_cannot_enable_the_pairs_makes_it_an_error()
    {
        _backendRefuses = true;
        Assert.Equal(NetControlQueue.Err, Send(NetControlQueue.ClassMq, NetControlQueue.MqVqPairsSet, 2, 0));
        Assert.Equal(1, Count(ControlOutcome.BackendFailed));
    }

    [Fact]
    public void Announce_ack_is_accepted_and_commands_of_features_not_offered_are_errors()
    {
        Assert.Equal(NetControlQueue.Ok, Send(NetControlQueue.ClassAnnounce, NetControlQueue.AnnounceAck));
        Assert.Equal(NetControlQueue.Err, Send(0, 0, 1)); // VIRTIO_NET_CTRL_RX_PROMISC: CTRL_RX is not offered
        Assert.Equal(NetControlQueue.Err, Send(1, 1, 2, 0, 0, 0, 0, 0xb)); // VIRTIO_NET_CTRL_MAC_ADDR_SET
        Assert.Equal(2, Count(ControlOutcome.Unsupported));
    }

    [Fact]
    public void Requests_shorter_than_their_command_are_errors()
    {
        Assert.Equal(NetControlQueue.Err, Send(NetControlQueue.ClassMq));
        Assert.Equal(NetControlQueue.Err, Send(NetControlQueue.ClassMq, NetControlQueue.MqVqPairsSet, 2));
        Assert.Equal(2, Count(ControlOutcome.TooShort));
        Assert.Empty(_pairs);
    }

    [Fact]
    public void A_request_without_an_ack_byte_comes_back_with_nothing_written()
    {
        _memory.Write(Request, [NetControlQueue.ClassMq, NetControlQueue.MqVqPairsSet, 2, 0]);
        _driver.Descriptor(0, Request, 4);
        _driver.Publish(0);
        _control.Process(_transport);
        Assert.Equal((0u, 0u), _driver.Used(0));
        Assert.Equal(1, Count(ControlOutcome.NoAckByte));
        Assert.Empty(_pairs);
    }

    [Fact]
    public void A_broken_ring_asks_the_transport_for_a_reset()
    {
        _driver.Publish(99);
        _control.Process(_transport);
        Assert.Equal(["control queue: head_out_of_range"], _transport.Resets);
        Assert.Equal(0, _driver.UsedIndex);
    }

}
