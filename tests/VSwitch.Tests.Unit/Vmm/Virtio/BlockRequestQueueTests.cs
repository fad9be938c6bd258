// virtio-blk's request queue as the VMM serves it (virtio 1.2 section 5.2.6): reads and writes
// land where the sector says, and every request a hostile driver shapes badly (past the end, an
// overflowing sector, partial sectors, a read-only volume, a missing status byte, a bad discard
// list) fails with its status and counter while the volume stays untouched.
using System.Buffers.Binary;
using VSwitch.Vmm.Devices.Virtio;
using VSwitch.Vmm.Devices.Virtio.Block;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Volumes;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Virtio;

public sealed class BlockRequestQueueTests : IDisposable
{
    private const ulong Header = 0x8000, Data = 0x9000, Status = 0xf000;
    private const long VolumeSectors = 64;
    private static readonly QueueConfig s_config = new(16, 0x1000, 0x2000, 0x3000);
    private readonly GuestMemory _memory = GuestMemory.Create(0x2_0000);
    private readonly DriverQueue _driver;
    private readonly RecordingTransport _transport = new();
    private readonly MemoryVolume _volume;
    private readonly BlockRequestQueue _queue;

    public BlockRequestQueueTests() : this(readOnly: false)
    {
    }

    private BlockRequestQueueTests(bool readOnly)
    {
        _driver = new DriverQueue(_memory, s_config);
        _volume = new MemoryVolume(VolumeSectors * 512, readOnly);
        _queue = new BlockRequestQueue(new SplitVirtqueue(_memory, s_config, VirtioFeatures.Version1), _memory, _volume, BlockLimits.Default);
    }

    public void Dispose() => _memory.Dispose();

    private long Count(BlockOutcome outcome) => _queue.Counters.Outcomes[(int)outcome];

    private void WriteHeader(uint type, ulong sector)
    {
        Span<byte> header = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(header, type);
        BinaryPrimitives.WriteUInt64LittleEndian(header[8..], sector);
        _memory.Write(Header, header);
        _memory.Write(Status, [0xaa]);
    }

    /// <summary>Linux's layout: header, data in <paramref name="pieces"/> descriptors, status; serves it and returns the status.</summary>
    private byte Send(uint type, ulong sector, int dataLength, bool deviceWritesData, int pieces = 1)
    {
        WriteHeader(type, sector);
        _driver.Descriptor(0, Header, 16, DriverQueue.Next, 1);
        int index = 1;
        for (int p = 0; p < pieces; p++)
        {
            int start = dataLength * p / pieces, end = dataLength * (p + 1) / pieces;
            _driver.Descriptor(index, Data + (ulong)start, (uint)(end - start), (ushort)(DriverQueue.Next | (deviceWritesData ? DriverQueue.Write : 0)), (ushort)(index + 1));
            index++;
        }
        _driver.Descriptor(index, Status, 1, DriverQueue.Write);
        _driver.Publish(0);
        _queue.Process(_transport);
        return _memory.GetSpan(Status, 1)[0];
    }

    private static byte[] Pattern(int length, byte seed) => [.. Enumerable.Range(0, length).Select(i => (byte)(i * 7 + seed))];

    [Fact]
    public void A_write_lands_at_its_sector_and_a_read_brings_it_back_across_buffers()
    {
        byte[] sent = Pattern(3 * 512, 1);
        _memory.Write(Data, sent);
        Assert.Equal(BlockRequestQueue.StatusOk, Send(BlockRequestQueue.TypeOut, 5, sent.Length, deviceWritesData: false, pieces: 2));
        Assert.Equal(sent, _volume.Bytes.AsSpan(5 * 512, sent.Length).ToArray());
        Assert.Equal((0u, 1u), _driver.Used(0)); // only the status byte was written

        _memory.Write(Data, new byte[sent.Length]);
        Assert.Equal(BlockRequestQueue.StatusOk, Send(BlockRequestQueue.TypeIn, 5, sent.Length, deviceWritesData: true, pieces: 3));
        Assert.Equal(sent, _memory.GetSpan(Data, sent.Length).ToArray());
        Assert.Equal((0u, (uint)sent.Length + 1), _driver.Used(1));
        Assert.Equal(2, Count(BlockOutcome.Ok));
        Assert.Equal(sent.Length, _queue.Counters.ReadBytes);
        Assert.Equal(sent.Length, _queue.Counters.WrittenBytes);
        Assert.Equal(2, _transport.Interrupts);
    }

    [Fact]
    public void Header_data_and_status_in_one_buffer_each_way_are_served_as_well()
    {
        // Any layout (2.6.4): a write whose header and data share one descriptor, and a read whose
        // data and status share one.
        byte[] sent = Pattern(512, 9);
        WriteHeader(BlockRequestQueue.TypeOut, 2);
        _memory.Write(Header + 16, sent);
        _driver.Descriptor(0, Header, 16 + 512, DriverQueue.Next, 1);
        _driver.Descriptor(1, Status, 1, DriverQueue.Write);
        _driver.Publish(0);
        _queue.Process(_transport);
        Assert.Equal(BlockRequestQueue.StatusOk, _memory.GetSpan(Status, 1)[0]);
        Assert.Equal(sent, _volume.Bytes.AsSpan(2 * 512, 512).ToArray());

        WriteHeader(BlockRequestQueue.TypeIn, 2);
        _memory.Write(Data, new byte[513]);
        _memory.Write(Data + 512, [0xaa]);
        _driver.Descriptor(0, Header, 16, DriverQueue.Next, 1);
        _driver.Descriptor(1, Data, 513, DriverQueue.Write);
        _driver.Publish(0);
        _queue.Process(_transport);
        Assert.Equal(sent, _memory.GetSpan(Data, 512).ToArray());
        Assert.Equal(BlockRequestQueue.StatusOk, _memory.GetSpan(Data + 512, 1)[0]);
    }

    [Theory]
    [InlineData(VolumeSectors, 512)]              // the first sector past the end
    [InlineData(VolumeSectors - 1, 1024)]         // starts inside, ends past the end
    [InlineData(ulong.MaxValue, 512)]             // sector * 512 overflows 64 bits
    [InlineData(ulong.MaxValue / 512 + 1, 512)]   // overflows exactly to 0
    public void A_range_outside_the_volume_fails_and_touches_nothing(ulong sector, int length)
    {
        _memory.Write(Data, Pattern(length, 3));
        Assert.Equal(BlockRequestQueue.StatusIoError, Send(BlockRequestQueue.TypeOut, sector, length, deviceWritesData: false));
        Assert.Equal(BlockRequestQueue.StatusIoError, Send(BlockRequestQueue.TypeIn, sector, length, deviceWritesData: true));
        Assert.Equal(2, Count(BlockOutcome.OutOfRange));
        Assert.Equal(0, _volume.Accesses);
        Assert.Equal((0u, 1u), _driver.Used(1)); // nothing but the status was written for the read
    }

    [Fact]
    public void The_last_sector_is_inside()
    {
        Assert.Equal(BlockRequestQueue.StatusOk, Send(BlockRequestQueue.TypeOut, VolumeSectors - 1, 512, deviceWritesData: false));
    }

    [Fact]
    public void Data_that_is_not_whole_sectors_fails()
    {
        Assert.Equal(BlockRequestQueue.StatusIoError, Send(BlockRequestQueue.TypeOut, 0, 100, deviceWritesData: false));
        Assert.Equal(BlockRequestQueue.StatusIoError, Send(BlockRequestQueue.TypeIn, 0, 513, deviceWritesData: true));
        Assert.Equal(2, Count(BlockOutcome.Unaligned));
        Assert.Equal(0, _volume.Accesses);
    }

    [Fact]
    public void A_read_only_volume_refuses_writes_discards_and_write_zeroes_and_serves_reads()
    {
        using var test = new BlockRequestQueueTests(readOnly: true);
        Assert.Equal(BlockRequestQueue.StatusIoError, test.Send(BlockRequestQueue.TypeOut, 0, 512, deviceWritesData: false));
        test.WriteSegments(0, (0, 1, 0));
        Assert.Equal(BlockRequestQueue.StatusIoError, test.Send(BlockRequestQueue.TypeDiscard, 0, 16, deviceWritesData: false));
        Assert.Equal(BlockRequestQueue.StatusIoError, test.Send(BlockRequestQueue.TypeWriteZeroes, 0, 16, deviceWritesData: false));
        Assert.Equal(3, test.Count(BlockOutcome.ReadOnly));
        Assert.Equal(0, test._volume.Accesses);
        Assert.Equal(BlockRequestQueue.StatusOk, test.Send(BlockRequestQueue.TypeIn, 0, 512, deviceWritesData: true));
    }

    [Theory]
    [InlineData(10u)] // GET_LIFETIME: not offered
    [InlineData(14u)] // SECURE_ERASE: not offered
    [InlineData(0xffff_ffffu)]
    public void A_request_type_not_offered_is_unsupported(uint type)
    {
        Assert.Equal(BlockRequestQueue.StatusUnsupported, Send(type, 0, 512, deviceWritesData: false));
        Assert.Equal(1, Count(BlockOutcome.Unsupported));
        Assert.Equal(0, _volume.Accesses);
    }

    [Fact]
    public void A_short_header_fails_and_a_request_without_a_status_byte_is_returned_untouched()
    {
        WriteHeader(BlockRequestQueue.TypeOut, 0);
        _driver.Descriptor(0, Header, 8, DriverQueue.Next, 1);
        _driver.Descriptor(1, Status, 1, DriverQueue.Write);
        _driver.Publish(0);
        _queue.Process(_transport);
        Assert.Equal(BlockRequestQueue.StatusIoError, _memory.GetSpan(Status, 1)[0]);
        Assert.Equal(1, Count(BlockOutcome.Malformed));

        WriteHeader(BlockRequestQueue.TypeIn, 0);
        _driver.Descriptor(0, Header, 16);
        _driver.Publish(0);
        _queue.Process(_transport);
        Assert.Equal(1, Count(BlockOutcome.NoStatusByte));
        Assert.Equal((0u, 0u), _driver.Used(1));
        Assert.Equal(0, _volume.Accesses);
    }

    [Fact]
    public void Get_id_returns_the_volume_id_padded_to_20_bytes()
    {
        _memory.Write(Data, Enumerable.Repeat((byte)0xee, 20).ToArray());
        Assert.Equal(BlockRequestQueue.StatusOk, Send(BlockRequestQueue.TypeGetId, 0, 20, deviceWritesData: true));
        byte[] expected = new byte[20];
        "vol-test"u8.CopyTo(expected);
        Assert.Equal(expected, _memory.GetSpan(Data, 20).ToArray());
        Assert.Equal((0u, 21u), _driver.Used(0));
    }

    [Fact]
    public void A_flush_is_answered_only_after_the_volume_flushed()
    {
        _volume.OnFlush = () =>
        {
            // Inside the volume's flush: the driver must not have its answer yet.
            Assert.Equal(0, _driver.UsedIndex);
            Assert.Equal(0xaa, _memory.GetSpan(Status, 1)[0]);
        };
        Assert.Equal(BlockRequestQueue.StatusOk, Send(BlockRequestQueue.TypeFlush, 0, 0, deviceWritesData: false));
        Assert.Equal(1, _volume.Flushes);
        Assert.Equal(1, _driver.UsedIndex);
        Assert.Equal(1, _queue.Counters.Flushes);
    }

    [Fact]
    public void A_volume_that_fails_gives_the_guest_an_io_error()
    {
        _volume.Fail = true;
        Assert.Equal(BlockRequestQueue.StatusIoError, Send(BlockRequestQueue.TypeOut, 0, 512, deviceWritesData: false));
        Assert.Equal(BlockRequestQueue.StatusIoError, Send(BlockRequestQueue.TypeFlush, 0, 0, deviceWritesData: false));
        Assert.Equal(2, Count(BlockOutcome.IoError));
    }

    private void WriteSegments(int at, params (ulong Sector, uint Sectors, uint Flags)[] segments)
    {
        Span<byte> raw = stackalloc byte[16];
        foreach ((ulong sector, uint sectors, uint flags) in segments)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(raw, sector);
            BinaryPrimitives.WriteUInt32LittleEndian(raw[8..], sectors);
            BinaryPrimitives.WriteUInt32LittleEndian(raw[12..], flags);
            _memory.Write(Data + (ulong)at, raw);
            at += 16;
        }
    }

    [Fact]
    public void Discard_hands_its_segments_to_the_volume_and_write_zeroes_zeroes_its_own_saying_whether_space_may_go()
    {
        Array.Fill(_volume.Bytes, (byte)0x55);
        WriteSegments(0, (1, 2, 0), (10, 1, 0));
        Assert.Equal(BlockRequestQueue.StatusOk, Send(BlockRequestQueue.TypeDiscard, 0, 32, deviceWritesData: false));
        WriteSegments(0, (20, 1, BlockRequestQueue.SegmentUnmap), (30, 1, 0));
        Assert.Equal(BlockRequestQueue.StatusOk, Send(BlockRequestQueue.TypeWriteZeroes, 0, 32, deviceWritesData: false));
        Assert.Equal([(512L, 1024L), (5120L, 512L)], _volume.Discarded);
        Assert.Equal([(10240L, 512L, true), (15360L, 512L, false)], _volume.Zeroed);
        Assert.All(_volume.Bytes.AsSpan(512, 1024).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(0x55, _volume.Bytes[0]);
    }

    [Fact]
    public void A_bad_segment_anywhere_in_the_list_fails_the_request_before_any_is_applied()
    {
        WriteSegments(0, (1, 1, 0), (VolumeSectors, 1, 0));
        Assert.Equal(BlockRequestQueue.StatusIoError, Send(BlockRequestQueue.TypeDiscard, 0, 32, deviceWritesData: false));
        WriteSegments(0, (1, 1, 0), (2, 1, BlockRequestQueue.SegmentUnmap)); // unmap is a write-zeroes flag only
        Assert.Equal(BlockRequestQueue.StatusUnsupported, Send(BlockRequestQueue.TypeDiscard, 0, 32, deviceWritesData: false));
        WriteSegments(0, (1, 1, 0x8));
        Assert.Equal(BlockRequestQueue.StatusUnsupported, Send(BlockRequestQueue.TypeWriteZeroes, 0, 16, deviceWritesData: false));
        Assert.Equal(BlockRequestQueue.StatusIoError, Send(BlockRequestQueue.TypeWriteZeroes, 0, 24, deviceWritesData: false)); // not whole segments
        Assert.Equal(BlockRequestQueue.StatusIoError, Send(BlockRequestQueue.TypeWriteZeroes, 0, 17 * 16, deviceWritesData: false)); // over max_write_zeroes_seg
        Assert.Equal(BlockRequestQueue.StatusIoError, Send(BlockRequestQueue.TypeDiscard, 0, 0, deviceWritesData: false)); // no segment
        WriteSegments(0, (0, (1u << 22) + 1, 0));
        Assert.Equal(BlockRequestQueue.StatusIoError, Send(BlockRequestQueue.TypeDiscard, 0, 16, deviceWritesData: false)); // over max_discard_sectors
        Assert.Empty(_volume.Zeroed);
        Assert.Equal(1, Count(BlockOutcome.OutOfRange));
        Assert.Equal(2, Count(BlockOutcome.Unsupported));
        Assert.Equal(4, Count(BlockOutcome.Malformed));
    }

    [Fact]
    public void Serving_reads_and_writes_allocates_nothing()
    {
        _memory.Write(Data, Pattern(4096, 5));
        for (int i = 0; i < 8; i++) // warm up: first calls may allocate in the runtime
        {
            Send(BlockRequestQueue.TypeOut, 8, 4096, deviceWritesData: false, pieces: 2);
            Send(BlockRequestQueue.TypeIn, 8, 4096, deviceWritesData: true, pieces: 2);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            _driver.Publish(0);
            _queue.Process(_transport);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(116, Count(BlockOutcome.Ok));
    }

    /// <summary>A volume in an array, which counts what the device asked of it.</summary>
    private sealed class MemoryVolume(long size, bool readOnly) : IBlockVolume
    {
        public byte[] Bytes { get; } = new byte[size];
        public int Accesses;
        public int Flushes;
        public bool Fail;
        public Action? OnFlush;
        public List<(long Offset, long Length, bool Release)> Zeroed { get; } = [];
        public List<(long Offset, long Length)> Discarded { get; } = [];

        public string Id => "vol-test";
        public long SizeBytes => Bytes.Length;
        public bool ReadOnly => readOnly;

        public void Read(long offset, Span<byte> destination)
        {
            Accesses++;
            Bytes.AsSpan((int)offset, destination.Length).CopyTo(destination);
        }

        public void Write(long offset, ReadOnlySpan<byte> source)
        {
            Accesses++;
            if (Fail)
                throw new IOException("no space left on device");
            source.CopyTo(Bytes.AsSpan((int)offset));
        }

        public void Flush()
        {
            if (Fail)
                throw new IOException("fdatasync failed");
            OnFlush?.Invoke();
            Flushes++;
        }

        public void Zero(long offset, long length, bool release)
        {
            Accesses++;
            Zeroed.Add((offset, length, release));
            Bytes.AsSpan((int)offset, (int)length).Clear();
        }

        public void Discard(long offset, long length)
        {
            Accesses++;
            Discarded.Add((offset, length));
            Bytes.AsSpan((int)offset, (int)length).Clear();
        }

        public void Dispose()
        {
        }
    }
}
