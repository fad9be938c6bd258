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
    /// Makes [offset, offset + length) read as zeros (virtio-blk WRITE_ZEROES); with
    /// <paramref name="release"/> (its UNMAP flag) the backing may free the space, else it stays allocated.
    /// </summary>
    void Zero(long offset, long length, bool release);

    /// <summary>
    /// The guest no longer needs [offset, offset + length) (virtio-blk DISCARD): the backing may
    /// free it. What the range reads afterwards is not promised (virtio 1.2 section 5.2.6.1).
    /// </summary>
    void Discard(long offset, long length);
}

public static class BlockVolumeExtensions
{
    private static readonly byte[] s_zeros = new byte[64 * 1024];

    /// <summary>Writes what a range of zeros goes to, 64 KiB at a time.</summary>
    public delegate void ZeroWriter<T>(T target, long offset, ReadOnlySpan<byte> zeros);

    /// <summary>Zeroes [offset, offset + length) of <paramref name="target"/> by writing zeros: for a backing that has no cheaper way.</summary>
    public static void WriteZeros<T>(T target, long offset, long length, ZeroWriter<T> write)
    {
        for (long done = 0; done < length;)
        {
            int piece = (int)Math.Min(s_zeros.Length, length - done);
            write(target, offset + done, s_zeros.AsSpan(0, piece));
            done += piece;
        }
    }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="file"/> at <paramref name="offset"/>; what lies past the file's end (a file shortened under the VMM) reads as zeros.</summary>
    public static void ReadOrZeros(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int read = RandomAccess.Read(file, destination, offset);
            if (read == 0)
            {
                destination.Clear();
                return;
            }
            destination = destination[read..];
            offset += read;
        }
    }

    public static void WriteZeros(this IBlockVolume volume, long offset, long length) =>
        WriteZeros(volume, offset, length, static (v, at, zeros) => v.Write(at, zeros));
}
