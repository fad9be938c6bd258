// An owned file descriptor (a pidfd, the loop's eventfd); closed exactly once by SafeHandle,
// which also keeps it open while a call that uses it is in flight.
using System.Runtime.InteropServices;

namespace VSwitch.Control.Agent.Supervision.Interop;

internal sealed class FileDescriptorHandle : SafeHandle
{
    public FileDescriptorHandle(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The descriptor's number, for calls that take it inside a struct (poll) or as an id (waitid); the caller keeps the handle alive.</summary>
    public int Number => (int)handle.ToInt64();

    protected override bool ReleaseHandle()
    {
        // close(2) releases the fd even when it reports EINTR on Linux: never retry.
        Interop.Close(Number);
        return true;
    }
}

internal static partial class Interop
{
    internal static void Close(int fd) => _ = close(fd);
}
