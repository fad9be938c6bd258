// The virtio-mmio register block with virtio-net behind it, driven the way Linux's virtio_mmio
// and virtio_net drivers do (virtio 1.2 sections 3.1.1 and 4.2.3), and the ways a hostile driver
// can deviate: odd access widths, features never offered, rings outside RAM, registers rewritten
// after the device runs.
using System.Buffers.Binary;
using VSwitch.Tests.Unit.Vmm.Devices;
using VSwitch.Vmm.Devices.Virtio;
using VSwitch.Vmm.Devices.Virtio.Mmio;
using VSwitch.Vmm.Devices.Virtio.Net;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;
using Xunit;
using T = VSwitch.Vmm.Devices.Virtio.Mmio.VirtioMmioTransport;

namespace VSwitch.Tests.Unit.Vmm.Virtio;

public sealed class VirtioMmioTransportTests : IDisposable
{
    private static readonly byte[] s_mac = [0x02, 0, 0, 0, 0, 0x0a];
    private readonly GuestMemory _memory = GuestMemory.Create(0x4_0000);
    private readonly RecordingBackend _backend = new();
    private readonly FakeInterruptTrigger _irq = new();
    private readonly VirtioNetDevice _device;
    private readonly T _transport;

    public VirtioMmioTransportTests()
    {
        _device = new VirtioNetDevice(new NetDeviceConfig(s_mac, 1400, QueuePairs: 2), _backend);
        _transport = new T(_device, _memory, _irq);
    }

    public void Dispose() => _memory.Dispose();

    private uint Read(int offset)
    {
        byte[] data = [0xff, 0xff, 0xff, 0xff];
        _transport.Read((ulong)offset, data);
        return BinaryPrimitives.ReadUInt32LittleEndian(data);
    }

    private void Write(int offset, uint value)
    {
        byte[] data = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        _transport.Write((ulong)offset, data);
    }

    private long Refusals(MmioRefusal refusal) => _transport.Refusals[(int)refusal];

    // Queue i's rings at 0x1000 * (4i + 1, 2, 3).
    private static QueueConfig QueueAt(int i, ushort size) => new(size, 0x1000UL * (ulong)(4 * i + 1), 0x1000UL * (ulong)(4 * i + 2), 0x1000UL * (ulong)(4 * i + 3));

    private void SetUpQueue(int index, QueueConfig config)
    {
        Write(T.RegQueueSel, (uint)index);
        Write(T.RegQueueNum, config.Size);
        Write(T.RegQueueDescLow, (uint)config.DescriptorTable);
        Write(T.RegQueueDescHigh, (uint)(config.DescriptorTable >> 32));
        Write(T.RegQueueDriverLow, (uint)config.AvailableRing);
        Write(T.RegQueueDriverHigh, (uint)(config.AvailableRing >> 32));
        Write(T.RegQueueDeviceLow, (uint)config.UsedRing);
        Write(T.RegQueueDeviceHigh, (uint)(config.UsedRing >> 32));
        Write(T.RegQueueReady, 1);
    }

    private void Negotiate(ulong features)
    {
        Write(T.RegStatus, (uint)DeviceStatus.Acknowledge);
        Write(T.RegStatus, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver));
        Write(T.RegDriverFeaturesSel, 0);
        Write(T.RegDriverFeatures, (uint)features);
        Write(T.RegDriverFeaturesSel, 1);
        Write(T.RegDriverFeatures, (uint)(features >> 32));
        Write(T.RegStatus, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk));
    }

    private const DeviceStatus Running = DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk;

    private void BringUp(ushort controlSize = 16)
    {
        Negotiate(VirtioFeatures.Version1 | VirtioNetDevice.FeatureControlQueue | VirtioNetDevice.FeatureMultiqueue | VirtioNetDevice.FeatureMac);
        for (int i = 0; i < 4; i++)
            SetUpQueue(i, QueueAt(i, 256));
        SetUpQueue(4, QueueAt(4, controlSize));
        Write(T.RegStatus, (uint)Running);
    }

    [Fact]
    public void The_registers_identify_a_version_2_virtio_net_device()
    {
        Assert.Equal(0x7472_6976u, Read(T.RegMagicValue));
        Assert.Equal(2u, Read(T.RegVersion));
        Assert.Equal(1u, Read(T.RegDeviceId));
        Write(T.RegDeviceFeaturesSel, 1);
        Assert.Equal(1u, Read(T.RegDeviceFeatures) & 1); // VERSION_1 is bit 32
        Write(T.RegDeviceFeaturesSel, 0);
        uint low = Read(T.RegDeviceFeatures);
        Assert.Equal((uint)(VirtioNetDevice.FeatureMac | VirtioNetDevice.FeatureMtu | VirtioNetDevice.FeatureStatus | VirtioNetDevice.FeatureControlQueue | VirtioNetDevice.FeatureMultiqueue
            | VirtioFeatures.RingEventIdx), low); // the ring features the backend serves, and no others
        Write(T.RegQueueSel, 4);
        Assert.Equal(64u, Read(T.RegQueueNumMax));
        Write(T.RegQueueSel, 5);
        Assert.Equal(0u, Read(T.RegQueueNumMax)); // no such queue
    }

    [Fact]
    public void The_configuration_space_holds_the_specs_mac_link_status_queue_pairs_and_mtu()
    {
        byte[] space = new byte[16];
        for (int i = 0; i < space.Length; i++)
            _transport.Read((ulong)(T.RegConfig + i), space.AsSpan(i, 1)); // byte by byte, as virtio_cread8 does
        Assert.Equal(s_mac, space[..6]);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(space.AsSpan(6))); // link down: no backend yet
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(space.AsSpan(8)));
        Assert.Equal(1400, BinaryPrimitives.ReadUInt16LittleEndian(space.AsSpan(10)));
        Assert.Equal([0xff, 0xff, 0xff, 0xff], space[12..]); // past the fields this device has
    }

    [Fact]
    public void Control_registers_take_only_aligned_32_bit_accesses()
    {
        byte[] two = [0xff, 0xff];
        _transport.Read(T.RegMagicValue, two);
        Assert.Equal([0xff, 0xff], two);
        _transport.Write(T.RegStatus, [1, 0]);
        _transport.Write(T.RegStatus + 1, [1, 0, 0, 0]);
        Assert.Equal(DeviceStatus.Reset, _transport.Status);
        Assert.Equal(3, Refusals(MmioRefusal.BadAccessWidth));
    }

    [Theory]
    [InlineData(1UL << 40, "a feature the device never offered")]
    [InlineData(VirtioNetDevice.FeatureMac, "no VIRTIO_F_VERSION_1")]
    public void Features_ok_is_refused_for_features_not_offered_or_a_legacy_driver(ulong features, string what)
    {
        Negotiate(features | (what.Contains("VERSION") ? 0 : VirtioFeatures.Version1));
        Assert.Equal(0u, Read(T.RegStatus) & (uint)DeviceStatus.FeaturesOk);
        Assert.Equal(1, Refusals(MmioRefusal.FeaturesRejected));
        Write(T.RegStatus, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.DriverOk));
        Assert.Equal(1, Refusals(MmioRefusal.DriverOkTooEarly));
        Assert.Null(_backend.Started);
    }

    [Fact]
    public void Driver_ok_hands_the_data_queues_to_the_backend_and_keeps_the_control_queue()
    {
        BringUp();
        Assert.Equal(Running, _transport.Status);
        Assert.Equal([QueueAt(0, 256), QueueAt(1, 256), QueueAt(2, 256), QueueAt(3, 256)], _backend.Started);
        Assert.NotNull(_device.Control);
        Write(T.RegQueueNotify, 1);
        Assert.Equal([1], _backend.Kicks);
    }

    [Fact]
    public void A_control_request_kicked_through_queue_notify_is_answered_with_an_interrupt()
    {
        BringUp();
        var driver = new DriverQueue(_memory, QueueAt(4, 16));
        _memory.Write(0x30000, [NetControlQueue.ClassMq, NetControlQueue.MqVqPairsSet, 2, 0]);
        _memory.Write(0x30010, [0xaa]);
        driver.Descriptor(0, 0x30000, 4, DriverQueue.Next, 1);
        driver.Descriptor(1, 0x30010, 1, DriverQueue.Write);
        driver.Publish(0);
        Write(T.RegQueueNotify, 4);

        Assert.Equal([2], _backend.QueuePairs);
        Assert.Equal(NetControlQueue.Ok, _memory.GetSpan(0x30010, 1)[0]);
        Assert.Equal((0u, 1u), driver.Used(0));
        Assert.Equal(T.InterruptUsedBuffer, Read(T.RegInterruptStatus));
        Assert.Equal(1, _irq.Triggers);
        Write(T.RegInterruptAck, T.InterruptUsedBuffer);
        Assert.Equal(0u, Read(T.RegInterruptStatus));
    }

    [Fact]
    public void Each_interrupt_is_triggered_after_its_reason_is_in_interrupt_status()
    {
        // What the guest's handler finds when the edge reaches it: the reason, then nothing once acknowledged.
        var seen = new List<uint>();
        _irq.OnTrigger = () =>
        {
            uint status = Read(T.RegInterruptStatus);
            seen.Add(status);
            Write(T.RegInterruptAck, status);
        };
        _transport.SignalUsedBuffers();
        _transport.SignalConfigChange();
        _transport.SignalUsedBuffers();
        Assert.Equal([T.InterruptUsedBuffer, T.InterruptConfigChange, T.InterruptUsedBuffer], seen);
        Assert.Equal(0u, Read(T.RegInterruptStatus));
    }

    [Theory]
    [InlineData(3, 0x1000UL, "QueueNum 3 must be a power of 2")]
    [InlineData(16, 0x10_0000UL, "is not inside one region of guest RAM")]
    public void Driver_ok_with_a_bad_queue_sets_needs_reset_and_raises_a_configuration_change(ushort size, ulong descriptors, string why)
    {
        var log = new List<string>();
        var transport = new T(_device, _memory, _irq, log.Add);
        Write(transport, T.RegStatus, (uint)DeviceStatus.Acknowledge);
        foreach (var (offset, value) in new (int, uint)[] { (T.RegDriverFeaturesSel, 1), (T.RegDriverFeatures, 1),
            (T.RegStatus, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk)),
            (T.RegQueueSel, 4), (T.RegQueueNum, size), (T.RegQueueDescLow, (uint)descriptors), (T.RegQueueDriverLow, 0x2000),
            (T.RegQueueDeviceLow, 0x3000), (T.RegQueueReady, 1), (T.RegStatus, (uint)Running) })
            Write(transport, offset, value);

        Assert.Equal(Running | DeviceStatus.NeedsReset, transport.Status);
        Assert.Equal(1, transport.Refusals[(int)MmioRefusal.ActivationFailed]);
        Assert.Contains(log, line => line.Contains("queue 4") && line.Contains(why));
        Assert.Null(_backend.Started);
        byte[] status = new byte[4];
        transport.Read(T.RegInterruptStatus, status);
        Assert.Equal(T.InterruptConfigChange, status[0]);
        transport.Write(T.RegQueueNotify, [4, 0, 0, 0]);
        Assert.Equal(1, transport.Refusals[(int)MmioRefusal.NoSuchQueue]); // a device that needs a reset takes no kicks
    }

    private static void Write(T transport, int offset, uint value)
    {
        byte[] data = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        transport.Write((ulong)offset, data);
    }

    [Fact]
    public void Queue_registers_and_features_are_frozen_once_the_device_runs()
    {
        BringUp();
        Write(T.RegQueueSel, 4);
        Write(T.RegQueueDescLow, 0x10_0000);
        Write(T.RegQueueReady, 0);
        Write(T.RegDriverFeatures, 0);
        Assert.Equal(1u, Read(T.RegQueueReady));
        Assert.Equal(2, Refusals(MmioRefusal.QueueFrozen));
        Assert.Equal(1, Refusals(MmioRefusal.FeaturesFrozen));
        Write(T.RegStatus, (uint)DeviceStatus.Acknowledge); // clearing bits is not a reset
        Assert.Equal(Running, _transport.Status);
        Assert.Equal(1, Refusals(MmioRefusal.StatusBitCleared));
    }

    [Fact]
    public void A_broken_control_ring_asks_for_a_reset_and_a_reset_brings_the_device_back()
    {
        BringUp();
        var driver = new DriverQueue(_memory, QueueAt(4, 16));
        driver.Publish(16); // no such descriptor
        Write(T.RegQueueNotify, 4);
        Assert.True((_transport.Status & DeviceStatus.NeedsReset) != 0);
        Assert.Equal(T.InterruptConfigChange, Read(T.RegInterruptStatus) & T.InterruptConfigChange);

        Write(T.RegStatus, 0);
        Assert.Equal(1, _backend.Stops);
        Assert.Equal(DeviceStatus.Reset, _transport.Status);
        Assert.Equal(0u, Read(T.RegInterruptStatus));
        _memory.GetSpan(0x11000, 0x3000).Clear(); // the driver's fresh rings
        BringUp();
        Assert.Equal(Running, _transport.Status);
        Assert.Equal(2, _backend.Starts);
    }

    [Fact]
    public void Link_changes_raise_a_configuration_change_with_a_new_generation()
    {
        BringUp();
        uint generation = Read(T.RegConfigGeneration);
        _device.SetLink(true);
        Assert.Equal(generation + 1, Read(T.RegConfigGeneration));
        Assert.Equal(T.InterruptConfigChange, Read(T.RegInterruptStatus));
        byte[] status = new byte[2];
        _transport.Read(T.RegConfig + 6, status);
        Assert.Equal(VirtioNetDevice.StatusLinkUp, BinaryPrimitives.ReadUInt16LittleEndian(status));
        _device.SetLink(true); // no change, no notification
        Assert.Equal(generation + 1, Read(T.RegConfigGeneration));
    }

    [Fact]
    public void With_irqfd_interrupts_a_running_device_always_reports_used_buffers()
    {
        var transport = new T(_device, _memory, _irq) { UsedBuffersByIrqfd = true };
        byte[] status = new byte[4];
        transport.Read(T.RegInterruptStatus, status);
        Assert.Equal(0, status[0]); // not running: nothing to report
        foreach (var (offset, value) in new (int, uint)[] { (T.RegDriverFeaturesSel, 1), (T.RegDriverFeatures, 1),
            (T.RegStatus, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk)),
            (T.RegQueueSel, 4), (T.RegQueueNum, 16), (T.RegQueueDescLow, 0x1000), (T.RegQueueDriverLow, 0x2000),
            (T.RegQueueDeviceLow, 0x3000), (T.RegQueueReady, 1), (T.RegQueueSel, 0), (T.RegQueueNum, 16), (T.RegQueueDescLow, 0x4000),
            (T.RegQueueDriverLow, 0x5000), (T.RegQueueDeviceLow, 0x6000), (T.RegQueueReady, 1), (T.RegQueueSel, 1), (T.RegQueueNum, 16),
            (T.RegQueueDescLow, 0x7000), (T.RegQueueDriverLow, 0x8000), (T.RegQueueDeviceLow, 0x9000), (T.RegQueueReady, 1), (T.RegStatus, (uint)Running) })
            Write(transport, offset, value);
        Assert.Equal(Running, transport.Status);
        transport.Read(T.RegInterruptStatus, status);
        Assert.Equal(T.InterruptUsedBuffer, status[0]);
    }

    [Fact]
    public void Every_access_is_counted_as_the_exit_it_was_status_reads_acks_notifies_per_queue_and_the_rest()
    {
        BringUp();
        MmioExitCounts setUp = _transport.Exits;
        Assert.Equal((0L, 0L, 0L), (setUp.InterruptStatusReads, setUp.InterruptAcks, setUp.QueueNotifies.Sum()));
        Assert.True(setUp.Other > 40, $"{setUp.Other} accesses to bring the device up");

        // What Linux's vm_interrupt does per interrupt, three times; two kicks of the control
        // queue, one of a data queue, and one of a queue that does not exist.
        for (int i = 0; i < 3; i++)
            Write(T.RegInterruptAck, Read(T.RegInterruptStatus));
        Write(T.RegQueueNotify, 4);
        Write(T.RegQueueNotify, 4);
        Write(T.RegQueueNotify, 1);
        Write(T.RegQueueNotify, 9);
        _ = Read(T.RegConfig);

        MmioExitCounts exits = _transport.Exits;
        Assert.Equal((3L, 3L), (exits.InterruptStatusReads, exits.InterruptAcks));
        Assert.Equal([0L, 1, 0, 0, 2], exits.QueueNotifies);
        Assert.Equal(setUp.Other + 2, exits.Other); // queue 9's notify and the config read
    }

    [Fact]
    public void The_exits_of_a_running_device_allocate_nothing_on_the_vcpu_thread()
    {
        // What a vCPU thread does for a running NIC, through the bus as VcpuThread calls it: the
        // interrupt's status read and ACK, a config read, a kick of an empty control queue (which
        // raises no interrupt: nothing was used). A collection would stop every vCPU at once.
        var bus = new VSwitch.Vmm.Devices.Bus.DeviceBus("MMIO");
        bus.Register(0xc000_0000, T.WindowSize, _transport, "virtio-net 0");
        BringUp();
        byte[] data = new byte[4];
        void Exits()
        {
            bus.Read(0xc000_0000 + T.RegInterruptStatus, data);
            bus.Write(0xc000_0000 + T.RegInterruptAck, data);
            bus.Read(0xc000_0000 + T.RegConfig + 6, data.AsSpan(0, 2));
            BinaryPrimitives.WriteUInt32LittleEndian(data, 4);
            bus.Write(0xc000_0000 + T.RegQueueNotify, data);
        }
        for (int i = 0; i < 1000; i++)
            Exits(); // first-call and tier-up work outside the measurement
        int triggers = _irq.Triggers;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
            Exits();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(triggers, _irq.Triggers);
        Assert.Equal(11_000, _transport.Exits.InterruptAcks);
    }

    private sealed class RecordingBackend : INetBackend
    {
        public QueueConfig?[]? Started;
        public int Starts, Stops;
        public List<int> Kicks { get; } = [];
        public List<int> QueuePairs { get; } = [];
        public ulong Features => VirtioFeatures.RingEventIdx;

        public string? Start(VirtioActivation activation, IReadOnlyList<QueueConfig?> dataQueues)
        {
            Started = [.. dataQueues];
            Starts++;
            return null;
        }

        public bool SetQueuePairs(int pairs)
        {
            QueuePairs.Add(pairs);
            return true;
        }

        public void Kick(int queue) => Kicks.Add(queue);

        public void Stop()
        {
            Stops++;
            Started = null;
        }
    }
}
