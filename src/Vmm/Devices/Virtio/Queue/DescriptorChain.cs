// One request as the driver posted it: the buffers of a descriptor chain, device-readable ones
// first (virtio 1.2 section 2.7.4.2), each already checked to lie inside guest RAM. The chain is
// a copy of the descriptors taken once, so a guest that rewrites its descriptor table while the
// device works cannot change what was checked; the bytes in the buffers are still the guest's
// and may change under the device (read each field once).
using VSwitch.Vmm.Kvm;

namespace VSwitch.Vmm.Devices.Virtio.Queue;

/// <summary>A buffer of a chain: guest-physical address, length, and whether the device writes it.</summary>
public readonly record struct ChainBuffer(ulong Address, int Length, bool DeviceWritable);

public readonly ref struct DescriptorChain
{
    public DescriptorChain(ushort head, ReadOnlySpan<ChainBuffer> buffers, int readableCount)
    {
        Head = head;
        Buffers = buffers;
        ReadableCount = readableCount;
    }

    /// <summary>The head descriptor's index: what goes back in the used ring.</summary>
    public ushort Head { get; }

    /// <summary>Every buffer, readable ones first (indirect tables already expanded).</summary>
    public ReadOnlySpan<ChainBuffer> Buffers { get; }

    public int ReadableCount { get; }

    public ReadOnlySpan<ChainBuffer> Readable => Buffers[..ReadableCount];

    public ReadOnlySpan<ChainBuffer> Writable => Buffers[ReadableCount..];

    public long ReadableBytes => Sum(Readable);

    public long WritableBytes => Sum(Writable);

    /// <summary>
    /// Copies the device-readable bytes from <paramref name="offset"/> on into
    /// <paramref name="destination"/>; returns how many there were (fewer when the chain is short).
    /// </summary>
    public int Read(GuestMemory memory, long offset, Span<byte> destination) =>
        Copy(memory, Readable, offset, destination.Length, destination, default);

    /// <summary>
    /// Copies <paramref name="source"/> into the device-writable buffers from
    /// <paramref name="offset"/> on; returns how many bytes fitted.
    /// </summary>
    public int Write(GuestMemory memory, long offset, ReadOnlySpan<byte> source) =>
        Copy(memory, Writable, offset, source.Length, default, source);

    /// <summary>
    /// The guest-memory pieces of [<paramref name="offset"/>, offset + <paramref name="length"/>)
    /// of <paramref name="buffers"/>' bytes taken as one stream: what a device reads a request's
    /// data from, or writes it to, without copying it through a buffer of its own.
    /// </summary>
    public static ChainPieces Pieces(ReadOnlySpan<ChainBuffer> buffers, long offset, long length) => new(buffers, offset, length);

    // Copies [offset, offset + length) of the buffers' bytes out of guest memory into `into`, or
    // from `from` into guest memory (the other one is empty).
    private static int Copy(GuestMemory memory, ReadOnlySpan<ChainBuffer> buffers, long offset, int length, Span<byte> into, ReadOnlySpan<byte> from)
    {
        int copied = 0;
        foreach ((ulong address, int take) in Pieces(buffers, offset, length))
        {
            Span<byte> guest = memory.GetSpan(address, take);
            if (from.IsEmpty)
                guest.CopyTo(into[copied..]);
            else
                from.Slice(copied, take).CopyTo(guest);
            copied += take;
        }
        return copied;
    }

    private static long Sum(ReadOnlySpan<ChainBuffer> buffers)
    {
        long total = 0;
        foreach (ChainBuffer buffer in buffers)
            total += buffer.Length;
        return total;
    }
}

/// <summary>Enumerates (guest address, length) pieces of a range of a chain's buffers; see <see cref="DescriptorChain.Pieces"/>.</summary>
public ref struct ChainPieces
{
    private readonly ReadOnlySpan<ChainBuffer> _buffers;
    private int _index;
    private long _skip;
    private long _left;

    internal ChainPieces(ReadOnlySpan<ChainBuffer> buffers, long offset, long length)
    {
        _buffers = buffers;
        _skip = offset;
        _left = length;
    }

    public (ulong Address, int Length) Current { get; private set; }

    public readonly ChainPieces GetEnumerator() => this;

    public bool MoveNext()
    {
        while (_left > 0 && _index < _buffers.Length)
        {
            ChainBuffer buffer = _buffers[_index++];
            if (_skip >= buffer.Length)
            {
                _skip -= buffer.Length;
                continue;
            }
            int take = (int)Math.Min(buffer.Length - _skip, _left);
            Current = (buffer.Address + (ulong)_skip, take);
            _skip = 0;
            _left -= take;
            return true;
        }
        return false;
    }
}
