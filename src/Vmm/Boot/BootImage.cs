// A boot input, the kernel or the initramfs, copied into guest memory straight from its file a
// piece at a time: never held whole in the VMM's heap, where it would count as the VMM's own
// memory beside the guest's for as long as the GC kept it (docs/performance.md, the NativeAOT
// vmm's footprint). Only the bzImage's setup part (at most 128 KiB) is ever read into an array.
using VSwitch.Vmm.Kvm;

namespace VSwitch.Vmm.Boot;

public sealed class BootImage : IDisposable
{
    private const int Piece = 1 << 20;
    private readonly Stream _stream;

    private BootImage(Stream stream, string name)
    {
        _stream = stream;
        Name = name;
        Length = stream.Length;
    }

    /// <summary>What error messages call it: the file's path, or "kernel"/"initramfs" for bytes.</summary>
    public string Name { get; }

    public long Length { get; }

    /// <exception cref="IOException">The file cannot be opened.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    public static BootImage Open(string path) =>
        new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0), path);

    /// <summary>An image already in memory (tests, generated images).</summary>
    public static BootImage FromBytes(byte[] bytes, string name) => new(new MemoryStream(bytes, writable: false), name);

    /// <summary>The first <paramref name="count"/> bytes, or the whole image if it is shorter.</summary>
    public byte[] ReadHead(int count)
    {
        byte[] head = new byte[(int)Math.Min(count, Length)];
        _stream.Position = 0;
        ReadExactly(head);
        return head;
    }

    /// <summary>Copies <paramref name="count"/> bytes from <paramref name="offset"/> to guest memory at <paramref name="address"/>.</summary>
    public void CopyTo(GuestMemory memory, ulong address, long offset, long count)
    {
        _stream.Position = offset;
        for (long done = 0; done < count;)
        {
            int piece = (int)Math.Min(Piece, count - done);
            ReadExactly(memory.GetSpan(address + (ulong)done, piece));
            done += piece;
        }
    }

    private void ReadExactly(Span<byte> destination)
    {
        try
        {
            _stream.ReadExactly(destination);
        }
        catch (EndOfStreamException)
        {
            throw new LinuxBootException($"{Name}: the file became shorter than its {Length} bytes while the VMM read it");
        }
    }

    public void Dispose() => _stream.Dispose();
}
