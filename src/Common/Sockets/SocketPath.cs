// A Unix socket's path in the file system, before a server takes it over: nothing there, a
// socket a dead server left behind (nobody answers a connect), or a live server's socket, which
// must never be unlinked (its clients would lose it while it still runs). unix(7), statx(2): statx
// rather than lstat because struct statx has one layout on every architecture, struct stat does not.
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;

namespace VSwitch.Common.Sockets;

public enum SocketPathState
{
    /// <summary>Nothing at the path.</summary>
    Free,
    /// <summary>A socket nobody listens on: safe to replace.</summary>
    Stale,
    /// <summary>Someone accepted, or would (a full backlog): in use.</summary>
    Listening,
}

public static partial class SocketPath
{
    /// <summary>sun_path in struct sockaddr_un is 108 bytes, the terminating NUL included (unix(7)).</summary>
    public const int MaxPathBytes = 107;

    private const int ErrnoNoEntry = 2;
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxIno = 0x100;
    private const int FileTypeMask = 0xF000;
    private const int FileTypeSocket = 0xC000;

    /// <summary>What is at <paramref name="path"/>.</summary>
    /// <exception cref="IOException">Something other than a socket is there, or it cannot be told.</exception>
    public static SocketPathState Probe(string path)
    {
        if (Identity(path) is not { } found)
            return SocketPathState.Free;
        if (!found.IsSocket)
            throw new IOException($"{path} exists and is not a socket; not replacing it");

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        // Non-blocking: a live server whose backlog is full would block a blocking connect
        // forever, and EAGAIN says just as well that someone is listening.
        probe.Blocking = false;
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return SocketPathState.Stale;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressNotAvailable && !Path.Exists(path))
        {
            return SocketPathState.Free; // .NET reports ENOENT so; the file went away between stat and connect.
        }
        catch (SocketException ex) when (ex.SocketErrorCode != SocketError.WouldBlock)
        {
            throw new IOException($"cannot tell whether {path} is in use: {ex.Message}", ex);
        }
        return SocketPathState.Listening;
    }

    /// <summary>
    /// A socket listening at <paramref name="path"/> with <paramref name="mode"/>, whatever the
    /// umask: bound under a staging name, given its mode, listening, then renamed into place. So
    /// the socket is never reachable with another mode, a stale one is replaced atomically, and
    /// .NET's Socket.Dispose, which unlinks the path it bound, never unlinks the published path
    /// (another server may own it by then). Call <see cref="Probe"/> first.
    /// </summary>
    /// <exception cref="IOException">Binding or listening failed.</exception>
    [UnsupportedOSPlatform("windows")]
    public static Socket Listen(string path, UnixFileMode mode, int backlog)
    {
        string staging = Staging(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(staging));
            File.SetUnixFileMode(staging, mode);
            listener.Listen(backlog);
            File.Move(staging, path, overwrite: true);
            return listener;
        }
        catch (Exception e)
        {
            listener.Dispose();
            if (e is SocketException socketError)
                throw new IOException($"cannot listen on {path}: {socketError.Message}", socketError);
            throw;
        }
    }

    /// <summary>A fresh name beside <paramref name="path"/> to bind before renaming into place;
    /// short, since a socket path has at most 107 bytes.</summary>
    public static string Staging(string path) =>
        Path.Combine(Path.GetDirectoryName(path) ?? "/", "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));

    /// <summary>The file at <paramref name="path"/> (not following a final symlink), or null if there is none.</summary>
    public static FileId? Identity(string path)
    {
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxIno, out StatxBuffer stat) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ErrnoNoEntry)
                return null;
            throw new IOException($"cannot stat {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        return new FileId((ulong)stat.DeviceMajor << 32 | stat.DeviceMinor, stat.Inode, (stat.Mode & FileTypeMask) == FileTypeSocket);
    }

    /// <summary>Deletes <paramref name="path"/> if it is still the file <paramref name="id"/> names, not a socket that has replaced ours since.</summary>
    public static void DeleteIfSame(string path, FileId id)
    {
        if (Identity(path) is { } current && current.Device == id.Device && current.Inode == id.Inode)
            File.Delete(path);
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string pathname, int flags, uint mask, out StatxBuffer buffer);
}

/// <summary>struct statx of linux/stat.h (256 bytes, one layout on every architecture), with only the fields read here.</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct StatxBuffer
{
    [FieldOffset(0)] public uint Mask;
    [FieldOffset(28)] public ushort Mode;
    [FieldOffset(32)] public ulong Inode;
    [FieldOffset(136)] public uint DeviceMajor;
    [FieldOffset(140)] public uint DeviceMinor;
}

public readonly record struct FileId(ulong Device, ulong Inode, bool IsSocket);
