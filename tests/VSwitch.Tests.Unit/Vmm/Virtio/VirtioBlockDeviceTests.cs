// virtio-blk as the driver first sees it (virtio 1.2 section 5.2.3-5.2.5): the features offered
// for a writable and a read-only volume, and the configuration space's capacity and limits.
using System.Buffers.Binary;
using VSwitch.Vmm.Devices.Virtio;
using VSwitch.Vmm.Devices.Virtio.Block;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Volumes;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Virtio;

public sealed class VirtioBlockDeviceTests
{
    private static (ulong Features, byte[] Config) Probe(bool readOnly, int queues)
    {
        var device = new VirtioBlockDevice(new FixedVolume(1L << 30, readOnly), queues, _ => { });
        byte[] config = new byte[64];
        device.ReadConfig(0, config);
        Assert.Equal(VirtioDeviceType.Block, device.DeviceType);
        Assert.Equal(queues, device.QueueMaxSizes.Length);
        return (device.DeviceFeatures, config);
    }

    [Fact]
    public void A_writable_volume_offers_flush_discard_and_write_zeroes_and_its_capacity_in_sectors()
    {
        (ulong features, byte[] config) = Probe(readOnly: false, queues: 1);
        ulong expected = VirtioBlockDevice.FeatureFlush | VirtioBlockDevice.FeatureDiscard | VirtioBlockDevice.FeatureWriteZeroes
            | VirtioBlockDevice.FeatureBlockSize | VirtioBlockDevice.FeatureSegMax | VirtioBlockDevice.FeatureSizeMax;
        Assert.Equal(expected, features & expected);
        Assert.Equal(0UL, features & (VirtioBlockDevice.FeatureReadOnly | VirtioBlockDevice.FeatureMultiqueue));
        Assert.Equal((1UL << 30) / 512, BinaryPrimitives.ReadUInt64LittleEndian(config));
        Assert.Equal(VirtioBlockDevice.QueueSize - 2u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(12)));
        Assert.Equal(512u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(20)));
        Assert.Equal(BlockLimits.Default.MaxDiscardSectors, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(36)));
        Assert.Equal((uint)BlockLimits.Default.MaxDiscardSegments, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(40)));
        Assert.Equal(0xffu, config[60]); // past the configuration space
    }

    [Fact]
    public void A_read_only_volume_says_so_and_offers_no_discard_and_several_queues_offer_multiqueue()
    {
        (ulong features, byte[] config) = Probe(readOnly: true, queues: 4);
        Assert.NotEqual(0UL, features & VirtioBlockDevice.FeatureReadOnly);
        Assert.Equal(0UL, features & (VirtioBlockDevice.FeatureDiscard | VirtioBlockDevice.FeatureWriteZeroes));
        Assert.NotEqual(0UL, features & VirtioBlockDevice.FeatureMultiqueue);
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(34)));
    }

    [Fact]
    public void A_kick_that_reaches_the_vmm_goes_to_the_queue_thread_and_out_of_range_ones_nowhere()
    {
        var woken = new List<int>();
        var device = new VirtioBlockDevice(new FixedVolume(1 << 20, false), 2, woken.Add);
        device.QueueNotify(1);
        device.QueueNotify(2);
        device.QueueNotify(-1);
        Assert.Equal([1], woken);
    }

    [Fact]
    public void Counters_survive_the_drivers_reset_and_a_retired_queue_serves_nothing()
    {
        using GuestMemory memory = GuestMemory.Create(0x1_0000);
        var config = new QueueConfig(16, 0x1000, 0x2000, 0x3000);
        var device = new VirtioBlockDevice(new FixedVolume(1 << 20, false), 1, _ => { });
        Assert.Null(device.Activate(new VirtioActivation(memory, VirtioFeatures.Version1, [config], new RecordingTransport())));
        var driver = new DriverQueue(memory, config);
        memory.Write(0x8000, [(byte)BlockRequestQueue.TypeFlush, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        driver.Descriptor(0, 0x8000, 16, DriverQueue.Next, 1);
        driver.Descriptor(1, 0x9000, 1, DriverQueue.Write);
        driver.Publish(0);
        device.Process(0);
        Assert.Equal(1, driver.UsedIndex);

        device.Reset();
        driver.Publish(0);
        device.Process(0); // no queue after a reset: nothing is served
        Assert.Equal(1, driver.UsedIndex);
        Assert.Equal(1, device.Counters.Flushes);
        Assert.Equal(1, device.Counters.Outcomes[(int)BlockOutcome.Ok]);
    }

    private sealed class FixedVolume(long size, bool readOnly) : IBlockVolume
    {
        public string Id => "fixed";
        public long SizeBytes => size;
        public bool ReadOnly => readOnly;
        public void Read(long offset, Span<byte> destination) => throw new InvalidOperationException("not read in these tests");
        public void Write(long offset, ReadOnlySpan<byte> source) => throw new InvalidOperationException("not written in these tests");
        public void Flush() { }
        public void Zero(long offset, long length, bool release) => throw new InvalidOperationException("not zeroed in these tests");

        public void Discard(long offset, long length) => throw new InvalidOperationException("not discarded in these tests");
        public void Dispose() { }
    }
}
