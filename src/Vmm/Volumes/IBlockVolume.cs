// What a virtio-blk device reads and writes: a volume, addressed in bytes from 0 to SizeBytes.
// The device has already checked every range against SizeBytes (Devices/Virtio/Block), so a
// volume never sees a request outside itself; it reports its own failures (a full disk, an I/O
// error of the file system below) as IOException, which the guest gets as VIRTIO_BLK_S_IOERR.
namespace VSwitch.Vmm.Volumes;

public interface IBlockVolume : IDisposable
{
    /// <summary>What the guest's GET_ID returns (at most 20 bytes of it) and logs name.</summary>
    string Id { get; }

    /// <summary>The volume's size, a multiple of 512 bytes.</summary>
    long SizeBytes { get; }

    bool ReadOnly { get; }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>; bytes past the backing's end read as zeros.</summary>
    void Read(long offset, Span<byte> destination);

    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>Returns once every write before it, and the metadata that finds it, is on stable storage.</summary>
    void Flush();

    /// <summary>
    /// Makes [offset, offset + length) read as zeros; with <paramref name="release"/> the backing
    /// may free the space (discard, or write-zeroes with unmap), else it stays allocated.
    /// </summary>
    void Zero(long offset, long length, bool release);
}
