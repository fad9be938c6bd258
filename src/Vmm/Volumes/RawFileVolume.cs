// A volume that is a whole file (or block device) on the host, byte for byte what the guest sees.
// Opening it takes the file's lock, as .NET takes it on Linux (flock(2), shared for a read-only
// open and exclusive otherwise, never waiting): a read-write attachment is exclusive, read-only
// attachments may share the file, and a second VMM opening a volume another one writes is
// refused instead of corrupting it. The lock goes with the process, so a killed VMM frees it.
using Microsoft.Win32.SafeHandles;
using VSwitch.Vmm.Kvm.Interop;

namespace VSwitch.Vmm.Volumes;

public sealed class RawFileVolume : IBlockVolume
{
    private const int ErrnoNotSupported = 95; // EOPNOTSUPP

    private readonly SafeFileHandle _file;
    private readonly IDisposable? _lease;

    private RawFileVolume(SafeFileHandle file, string id, long size, bool readOnly, IDisposable? lease)
    {
        _file = file;
        _lease = lease;
        Id = id;
        SizeBytes = size;
        ReadOnly = readOnly;
    }

    public string Id { get; }

    public long SizeBytes { get; }

    public bool ReadOnly { get; }

    /// <summary>
    /// Opens the file at <paramref name="path"/>. Throws <see cref="IOException"/> when it is
    /// missing, locked by another VMM, or not a whole number of 512-byte sectors, and
    /// <see cref="UnauthorizedAccessException"/> when it may not be opened so. <paramref name="lease"/>
    /// (a pool's hold on it, VolumePool.OpenDisk) is released with the volume.
    /// </summary>
    public static RawFileVolume Open(string path, string id, bool readOnly, IDisposable? lease = null)
    {
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                readOnly ? FileShare.Read : FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new IOException($"{e.Message} (another VMM may have it attached{(readOnly ? " read-write" : "")})", e);
        }
        long size = RandomAccess.GetLength(file);
        if (size == 0 || size % 512 != 0)
        {
            file.Dispose();
            throw new IOException($"{path} is {size} bytes; a volume is a whole number of 512-byte sectors, at least one");
        }
        return new RawFileVolume(file, id, size, readOnly, lease);
    }

    public void Read(long offset, Span<byte> destination) => BlockVolumeExtensions.ReadOrZeros(_file, offset, destination);

    public void Write(long offset, ReadOnlySpan<byte> source) => RandomAccess.Write(_file, source, offset);

    public void Flush()
    {
        int errno = Interop.DataSync(_file);
        if (errno != 0)
            throw new IOException($"fdatasync of volume {Id} failed: errno {errno}");
    }

    public void Zero(long offset, long length, bool release)
    {
        int errno = Interop.ZeroRange(_file, offset, length, punchHole: release);
        if (errno == 0)
            return;
        if (errno != ErrnoNotSupported)
            throw new IOException($"fallocate on volume {Id} failed: errno {errno}");
        // A file system without that fallocate mode (tmpfs has no zero-range): write the zeros.
        this.WriteZeros(offset, length);
    }

    /// <summary>A hole punched in the file: the space goes back to the file system, and the range reads zeros.</summary>
    public void Discard(long offset, long length) => Zero(offset, length, release: true);

    public void Dispose()
    {
        _file.Dispose();
        _lease?.Dispose();
    }
}
