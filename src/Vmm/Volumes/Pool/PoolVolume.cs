// A pool volume as a VM's disk sees it: its bytes are the extents its map names in pool.data,
// and a range no extent backs yet reads as zeros. The first write into such a range maps a free
// extent (VolumePool.MapExtent, durable before the data goes in); a full pool fails that write
// with an IOException, which the guest gets as VIRTIO_BLK_S_IOERR. A discard of whole extents
// gives them back to the pool; of part of one, zeroes that part in place.
namespace VSwitch.Vmm.Volumes.Pool;

public sealed class PoolVolume : IBlockVolume
{
    private readonly VolumePool _pool;
    private readonly PoolVolumeInfo _volume;
    private readonly long _extentSize;
    private readonly IDisposable _lease;

    /// <param name="lease">The hold on the volume (VolumePool.Lease) this volume releases when it is closed.</param>
    internal PoolVolume(VolumePool pool, PoolVolumeInfo volume, bool readOnly, IDisposable lease)
    {
        _pool = pool;
        _lease = lease;
        _volume = volume;
        _extentSize = pool.State.ExtentSize;
        ReadOnly = readOnly;
    }

    public string Id => _volume.Name;
    public long SizeBytes => _volume.SizeBytes;
    public bool ReadOnly { get; }

    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            (long logical, int within, int piece) = Piece(offset, destination.Length);
            long physical = _volume.Map[logical];
            if (physical < 0)
                destination[..piece].Clear();
            else
                BlockVolumeExtensions.ReadOrZeros(_pool.Data, physical * _extentSize + within, destination[..piece]);
            destination = destination[piece..];
            offset += piece;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            (long logical, int within, int piece) = Piece(offset, source.Length);
            long physical = _volume.Map[logical];
            if (physical < 0)
                physical = _pool.MapExtent(_volume, logical);
            RandomAccess.Write(_pool.Data, source[..piece], physical * _extentSize + within);
            source = source[piece..];
            offset += piece;
        }
    }

    /// <summary>pool.data's data; the extent maps were made durable when they were journalled.</summary>
    public void Flush() => _pool.SyncData();

    /// <summary>Mapped ranges are zeroed in the data file; with <paramref name="release"/>, whole extents go back to the pool and parts of one are punched out.</summary>
    public void Zero(long offset, long length, bool release)
    {
        while (length > 0)
        {
            (long logical, int within, int piece) = Piece(offset, (int)Math.Min(length, int.MaxValue));
            long physical = _volume.Map[logical];
            // A range never written already reads as zeros, and stays unmapped.
            if (physical >= 0)
            {
                if (release && within == 0 && piece == _extentSize)
                    _pool.UnmapExtent(_volume, logical);
                else
                    _pool.ZeroData(physical * _extentSize + within, piece, punchHole: release);
            }
            offset += piece;
            length -= piece;
        }
    }

    public void Discard(long offset, long length) => Zero(offset, length, release: true);

    public void Dispose() => _lease.Dispose();

    /// <summary>The extent holding <paramref name="offset"/>, where in it, and how much of <paramref name="length"/> it covers.</summary>
    private (long Logical, int Within, int Piece) Piece(long offset, int length)
    {
        long logical = offset / _extentSize;
        int within = (int)(offset % _extentSize);
        return (logical, within, (int)Math.Min(length, _extentSize - within));
    }
}
