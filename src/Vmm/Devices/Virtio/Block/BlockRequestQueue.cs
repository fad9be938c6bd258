// One request queue of a virtio-blk device (virtio 1.2 section 5.2.6 "Device Operation"). A
// request is
//   le32 type; le32 reserved; le64 sector;   (device-readable header)
//   u8 data[];                               (readable for OUT, DISCARD, WRITE_ZEROES; writable for IN, GET_ID)
//   u8 status;                               (the last device-writable byte)
// and nothing is assumed about how the driver splits that across descriptors (2.6.4, message
// framing): the header is the first 16 readable bytes, the status the last writable one.
// The guest is hostile: every sector range is checked against the volume's capacity before the
// volume sees it (an overflowing sector number is out of range too), IN and OUT data must be
// whole sectors (5.2.6.1), and each refusal is counted by its reason. Data moves between the
// volume and guest memory directly, buffer by buffer, with nothing allocated per request.
// Single consumer: the device's I/O thread for this queue serves it; a lock makes a reset wait
// for the request in flight.
using System.Buffers.Binary;
using System.Text;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Volumes;

namespace VSwitch.Vmm.Devices.Virtio.Block;

/// <summary>How a request ended; counted per outcome.</summary>
public enum BlockOutcome
{
    /// <summary>Done: VIRTIO_BLK_S_OK.</summary>
    Ok,
    /// <summary>The volume failed it (a full disk, an I/O error below): VIRTIO_BLK_S_IOERR.</summary>
    IoError,
    /// <summary>A sector range past the volume's end or overflowing: VIRTIO_BLK_S_IOERR, the volume untouched.</summary>
    OutOfRange,
    /// <summary>IN or OUT data that is not a whole number of 512-byte sectors: VIRTIO_BLK_S_IOERR.</summary>
    Unaligned,
    /// <summary>A write, discard or write-zeroes to a read-only volume: VIRTIO_BLK_S_IOERR.</summary>
    ReadOnly,
    /// <summary>A request type, or a flag, this device does not offer: VIRTIO_BLK_S_UNSUPP.</summary>
    Unsupported,
    /// <summary>A header shorter than 16 bytes, or a bad discard/write-zeroes segment list: VIRTIO_BLK_S_IOERR.</summary>
    Malformed,
    /// <summary>No device-writable byte for the status: returned used with nothing written.</summary>
    NoStatusByte,
}

/// <summary>
/// A snapshot of a queue's counters (or a device's, summed): outcomes indexed by
/// <see cref="BlockOutcome"/>, the bytes moved, and the requests each request queue served,
/// which shows whether a multiqueue guest spreads its requests.
/// </summary>
public sealed record BlockQueueCounters(long[] Outcomes, long ReadBytes, long WrittenBytes, long Flushes, long[] QueueRequests);

/// <summary>
/// A request queue's running counters, kept by the device across the driver's resets (a queue
/// object lives from one DRIVER_OK to the next reset). Written by the queue's I/O thread alone,
/// read by anyone without waiting for it.
/// </summary>
public sealed class BlockCounters
{
    internal readonly long[] Outcomes = new long[Enum.GetValues<BlockOutcome>().Length];
    internal long ReadBytes, WrittenBytes, Flushes;

    public BlockQueueCounters Snapshot()
    {
        long[] outcomes = new long[Outcomes.Length];
        for (int i = 0; i < outcomes.Length; i++)
            outcomes[i] = Volatile.Read(ref Outcomes[i]);
        return new(outcomes, Volatile.Read(ref ReadBytes), Volatile.Read(ref WrittenBytes), Volatile.Read(ref Flushes), [outcomes.Sum()]);
    }

    /// <summary>The sum of several queues' snapshots.</summary>
    public static BlockQueueCounters Sum(IEnumerable<BlockCounters> counters)
    {
        long[] outcomes = new long[Enum.GetValues<BlockOutcome>().Length];
        long read = 0, written = 0, flushes = 0;
        var perQueue = new List<long>();
        foreach (BlockCounters queue in counters)
        {
            BlockQueueCounters snapshot = queue.Snapshot();
            perQueue.AddRange(snapshot.QueueRequests);
            for (int i = 0; i < outcomes.Length; i++)
                outcomes[i] += snapshot.Outcomes[i];
            read += snapshot.ReadBytes;
            written += snapshot.WrittenBytes;
            flushes += snapshot.Flushes;
        }
        return new(outcomes, read, written, flushes, [.. perQueue]);
    }
}

public sealed class BlockRequestQueue
{
    // Request types (5.2.6).
    public const uint TypeIn = 0;
    public const uint TypeOut = 1;
    public const uint TypeFlush = 4;
    public const uint TypeGetId = 8;
    public const uint TypeDiscard = 11;
    public const uint TypeWriteZeroes = 13;

    // Status values (5.2.6).
    public const byte StatusOk = 0;
    public const byte StatusIoError = 1;
    public const byte StatusUnsupported = 2;

    public const int SectorSize = 512;
    public const int HeaderSize = 16;
    /// <summary>struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags.</summary>
    public const int SegmentSize = 16;
    /// <summary>VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP.</summary>
    public const uint SegmentUnmap = 1;
    /// <summary>GET_ID's answer: the id's bytes, NUL-padded, not terminated when it fills all 20.</summary>
    public const int IdSize = 20;

    private readonly SplitVirtqueue _queue;
    private readonly GuestMemory _memory;
    private readonly IBlockVolume _volume;
    private readonly ulong _capacity; // in sectors
    private readonly BlockLimits _limits;
    private readonly byte[] _id = new byte[IdSize];
    private readonly Lock _lock = new();
    private readonly BlockCounters _counters;
    private readonly ChainServer _serve;
    private bool _retired;

    /// <param name="counters">Where this queue counts; null for its own.</param>
    public BlockRequestQueue(SplitVirtqueue queue, GuestMemory memory, IBlockVolume volume, BlockLimits limits, BlockCounters? counters = null)
    {
        if (limits.MaxDiscardSegments is < 1 or > BlockLimits.MaxSegments || limits.MaxWriteZeroesSegments is < 1 or > BlockLimits.MaxSegments)
            throw new ArgumentOutOfRangeException(nameof(limits), $"segment limits must be 1..{BlockLimits.MaxSegments}");
        _queue = queue;
        _memory = memory;
        _volume = volume;
        _capacity = (ulong)(volume.SizeBytes / SectorSize);
        _limits = limits;
        _counters = counters ?? new BlockCounters();
        _serve = ServeOne;
        byte[] id = Encoding.UTF8.GetBytes(volume.Id);
        id.AsSpan(0, Math.Min(id.Length, IdSize)).CopyTo(_id);
    }

    public SplitVirtqueue Queue => _queue;

    /// <summary>The counters so far, read without waiting for the request in flight.</summary>
    public BlockQueueCounters Counters => _counters.Snapshot();

    /// <summary>
    /// Serves every request on the queue, then tells the transport: a used-buffer interrupt when
    /// the driver wants one, a reset request when the available ring is broken.
    /// </summary>
    public void Process(IVirtioTransport transport)
    {
        lock (_lock)
        {
            if (_retired)
                return;
            _queue.ServeAll(_serve, transport, "block queue");
        }
    }

    /// <summary>
    /// The driver reset the device: waits for the request in flight, if any, and serves nothing
    /// after it (the driver may reuse the rings' memory once it sees the reset).
    /// </summary>
    public void Retire()
    {
        lock (_lock)
            _retired = true;
    }

    private uint ServeOne(in DescriptorChain chain)
    {
        BlockOutcome outcome = Serve(chain, out uint written);
        _counters.Outcomes[(int)outcome]++;
        return written;
    }

    private BlockOutcome Serve(in DescriptorChain chain, out uint written)
    {
        written = 0;
        long writable = chain.WritableBytes;
        if (writable < 1)
            return BlockOutcome.NoStatusByte;
        long data = writable - 1; // the writable bytes before the status
        Span<byte> header = stackalloc byte[HeaderSize];
        BlockOutcome outcome;
        long dataWritten = 0;
        if (chain.Read(_memory, 0, header) < HeaderSize)
        {
            outcome = BlockOutcome.Malformed;
        }
        else
        {
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
            ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
            try
            {
                outcome = type switch
                {
                    TypeIn => ReadSectors(chain, sector, data, out dataWritten),
                    TypeOut => WriteSectors(chain, sector),
                    TypeFlush => Flush(),
                    TypeGetId => GetId(chain, data, out dataWritten),
                    TypeDiscard => ZeroSegments(chain, discard: true),
                    TypeWriteZeroes => ZeroSegments(chain, discard: false),
                    _ => BlockOutcome.Unsupported,
                };
            }
            catch (IOException)
            {
                outcome = BlockOutcome.IoError;
            }
        }
        byte status = outcome switch
        {
            BlockOutcome.Ok => StatusOk,
            BlockOutcome.Unsupported => StatusUnsupported,
            _ => StatusIoError,
        };
        chain.Write(_memory, data, [status]);
        written = (uint)(dataWritten + 1);
        return outcome;
    }

    private BlockOutcome ReadSectors(in DescriptorChain chain, ulong sector, long length, out long written)
    {
        written = 0;
        if (Check(sector, length) is BlockOutcome refused)
            return refused;
        long offset = (long)sector * SectorSize;
        foreach ((ulong address, int piece) in DescriptorChain.Pieces(chain.Writable, 0, length))
        {
            _volume.Read(offset, _memory.GetSpan(address, piece));
            offset += piece;
        }
        written = length;
        _counters.ReadBytes += length;
        return BlockOutcome.Ok;
    }

    private BlockOutcome WriteSectors(in DescriptorChain chain, ulong sector)
    {
        long length = chain.ReadableBytes - HeaderSize;
        if (_volume.ReadOnly)
            return BlockOutcome.ReadOnly;
        if (Check(sector, length) is BlockOutcome refused)
            return refused;
        long offset = (long)sector * SectorSize;
        foreach ((ulong address, int piece) in DescriptorChain.Pieces(chain.Readable, HeaderSize, length))
        {
            _volume.Write(offset, _memory.GetSpan(address, piece));
            offset += piece;
        }
        _counters.WrittenBytes += length;
        return BlockOutcome.Ok;
    }

    // Null when [sector, sector + length/512) is whole sectors inside the volume.
    private BlockOutcome? Check(ulong sector, long length)
    {
        if (length % SectorSize != 0)
            return BlockOutcome.Unaligned;
        ulong sectors = (ulong)length / SectorSize;
        if (sector > _capacity || sectors > _capacity - sector)
            return BlockOutcome.OutOfRange;
        return null;
    }

    private BlockOutcome Flush()
    {
        _volume.Flush();
        _counters.Flushes++;
        return BlockOutcome.Ok;
    }

    private BlockOutcome GetId(in DescriptorChain chain, long length, out long written)
    {
        written = chain.Write(_memory, 0, _id.AsSpan(0, (int)Math.Min(length, IdSize)));
        return BlockOutcome.Ok;
    }

    // DISCARD and WRITE_ZEROES (5.2.6.2): the data is a list of segments, copied out of guest
    // memory once and checked whole before any is applied, so a bad list changes nothing.
    private BlockOutcome ZeroSegments(in DescriptorChain chain, bool discard)
    {
        if (_volume.ReadOnly)
            return BlockOutcome.ReadOnly;
        long length = chain.ReadableBytes - HeaderSize;
        int maxSegments = discard ? _limits.MaxDiscardSegments : _limits.MaxWriteZeroesSegments;
        uint maxSectors = discard ? _limits.MaxDiscardSectors : _limits.MaxWriteZeroesSectors;
        if (length <= 0 || length % SegmentSize != 0 || length / SegmentSize > maxSegments)
            return BlockOutcome.Malformed;
        Span<byte> list = stackalloc byte[(int)length]; // at most BlockLimits.MaxSegments segments
        chain.Read(_memory, HeaderSize, list);
        for (int at = 0; at < list.Length; at += SegmentSize)
        {
            (ulong sector, uint sectors, uint flags) = Segment(list[at..]);
            // 5.2.6.2: unmap is a write-zeroes flag; a discard with it, or any unknown flag, is unsupported.
            if ((flags & ~SegmentUnmap) != 0 || (discard && flags != 0))
                return BlockOutcome.Unsupported;
            if (sectors > maxSectors)
                return BlockOutcome.Malformed;
            if (Check(sector, (long)sectors * SectorSize) is BlockOutcome refused)
                return refused;
        }
        for (int at = 0; at < list.Length; at += SegmentSize)
        {
            (ulong sector, uint sectors, uint flags) = Segment(list[at..]);
            if (discard)
                _volume.Discard((long)sector * SectorSize, (long)sectors * SectorSize);
            else
                _volume.Zero((long)sector * SectorSize, (long)sectors * SectorSize, release: flags == SegmentUnmap);
        }
        return BlockOutcome.Ok;
    }

    private static (ulong Sector, uint Sectors, uint Flags) Segment(ReadOnlySpan<byte> raw) =>
        (BinaryPrimitives.ReadUInt64LittleEndian(raw), BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]), BinaryPrimitives.ReadUInt32LittleEndian(raw[12..]));
}

/// <summary>What the device tells the driver it may send in one request (the configuration space's limits, 5.2.4).</summary>
public sealed record BlockLimits(int MaxDiscardSegments, uint MaxDiscardSectors, int MaxWriteZeroesSegments, uint MaxWriteZeroesSectors)
{
    /// <summary>The most segments a limit may allow: a segment list is copied to the I/O thread's stack (16 bytes each).</summary>
    public const int MaxSegments = 64;

    public static readonly BlockLimits Default = new(MaxDiscardSegments: 16, MaxDiscardSectors: 1u << 22, MaxWriteZeroesSegments: 16, MaxWriteZeroesSectors: 1u << 22);
}
