// The socket file's owner group: .NET can set a file's mode but not its group, so chown(2) is
// called directly (no pointers: the path is marshalled as a UTF-8 string).
using System.Runtime.InteropServices;

namespace VSwitch.Control.Agent.Http;

internal static partial class SocketFile
{
    /// <summary>chown(2)'s "leave the owner as it is".</summary>
    private const uint KeepOwner = uint.MaxValue;

    /// <exception cref="IOException">chown failed.</exception>
    public static void SetGroup(string path, uint gid)
    {
        if (chown(path, KeepOwner, gid) != 0)
            throw new IOException($"cannot give {path} to group {gid}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chown(string path, uint owner, uint group);
}
