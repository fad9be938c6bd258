// The control socket's path in the file system: telling a stale socket from a live one before
// taking the path over, and deleting only our own socket on the way out.
using System.Runtime.InteropServices;
using VSwitch.Common.Sockets;
using VSwitch.Dataplane.Interop;
using static VSwitch.Dataplane.Interop.Interop;

namespace VSwitch.Dataplane.ControlSocket;

internal readonly record struct FileIdentity(uint DeviceMajor, uint DeviceMinor, ulong Inode);

internal static class SocketFile
{
    /// <summary>
    /// Checks that <paramref name="path"/> is free to be replaced: nothing there, or a socket
    /// nobody listens on (a vswitchd that crashed or was killed leaves one behind).
    /// </summary>
    /// <exception cref="IOException">The path is not a socket, or another process is listening on it.</exception>
    public static void ThrowIfInUse(string path)
    {
        if (SocketPath.Probe(path) == SocketPathState.Listening)
            throw new IOException($"another vswitchd is listening on {path}");
    }

    /// <summary>Deletes <paramref name="path"/> if it is still the file <paramref name="identity"/> names, not a socket that has replaced ours since.</summary>
    public static void DeleteIfSame(string path, FileIdentity identity)
    {
        if (TryStat(path, out _, out FileIdentity current) && current == identity)
            File.Delete(path);
    }

    /// <summary>False if nothing is at <paramref name="path"/>. Does not follow a final symlink.</summary>
    public static unsafe bool TryStat(string path, out bool isSocket, out FileIdentity identity)
    {
        InstallResolver();
        StatxBuffer buffer;
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxIno, &buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ErrnoNoEntry)
            {
                isSocket = false;
                identity = default;
                return false;
            }
            throw new IOException($"cannot stat {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        isSocket = (buffer.Mode & FileTypeMask) == FileTypeSocket;
        identity = new FileIdentity(buffer.DeviceMajor, buffer.DeviceMinor, buffer.Inode);
        return true;
    }
}
