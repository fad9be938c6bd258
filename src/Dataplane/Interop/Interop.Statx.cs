// statx(2), for the one thing the BCL cannot say about a path: whether it is a socket. It lives
// with its only caller; it belongs in src/Dataplane/Interop/ if anything else needs it. statx
// rather than lstat because struct statx has one layout on every architecture.
using System.Runtime.InteropServices;

namespace VSwitch.Dataplane.Interop;

internal static unsafe partial class Interop
{
    internal const int AtFdCwd = -100;
    internal const int AtSymlinkNoFollow = 0x100;
    internal const uint StatxType = 0x1;
    internal const uint StatxIno = 0x100;
    internal const int FileTypeMask = 0xF000;
    internal const int FileTypeSocket = 0xC000;
    internal const int ErrnoNoEntry = 2;

    [LibraryImport(LibcLibrary, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int statx(int dirfd, string pathname, int flags, uint mask, StatxBuffer* statxbuf);
}

/// <summary>struct statx of linux/stat.h, with only the fields vswitchd reads.</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct StatxBuffer
{
    [FieldOffset(0)] public uint Mask;
    [FieldOffset(28)] public ushort Mode;
    [FieldOffset(32)] public ulong Inode;
    [FieldOffset(136)] public uint DeviceMajor;
    [FieldOffset(140)] public uint DeviceMinor;
}
