// poll(2) over the supervision loop's descriptors (every child's pidfd and the loop's wake-up
// eventfd), and eventfd(2), through which another thread wakes the loop when the desired set
// changes. The loop thread is the only one that closes these descriptors, so their numbers stay
// valid for the whole poll.
using System.Runtime.InteropServices;

namespace VSwitch.Control.Agent.Supervision.Interop;

internal static partial class Interop
{
    private const int EFD_CLOEXEC = 0x80000;
    private const int EFD_NONBLOCK = 0x800;
    internal const short POLLIN = 0x1;

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> (-1: for ever) for one of <paramref name="fds"/>; their Revents say which. An interrupted wait returns as a timeout.</summary>
    internal static void Poll(PollFd[] fds, int timeoutMs)
    {
        if (poll(fds, (nuint)fds.Length, timeoutMs) < 0)
        {
            int errno = LastErrno();
            if (errno != EINTR)
                throw new InvalidOperationException($"poll failed: {Describe(errno)}");
        }
    }

    /// <summary>A non-blocking, close-on-exec eventfd with a count of 0.</summary>
    internal static FileDescriptorHandle CreateEventFd()
    {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
            throw new InvalidOperationException($"eventfd failed: {Describe(LastErrno())}");
        return new FileDescriptorHandle(fd);
    }

    /// <summary>Adds 1 to the eventfd's count, making it readable.</summary>
    internal static void Signal(FileDescriptorHandle eventFd)
    {
        ulong one = 1;
        _ = write(eventFd, ref one, sizeof(ulong));
    }

    /// <summary>Takes the eventfd's count, making it unreadable again.</summary>
    internal static void Drain(FileDescriptorHandle eventFd)
    {
        ulong count = 0;
        _ = read(eventFd, ref count, sizeof(ulong));
    }

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int poll([In, Out] PollFd[] fds, nuint count, int timeoutMs);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int eventfd(uint initial, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial nint write(FileDescriptorHandle fd, ref ulong value, nuint count);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial nint read(FileDescriptorHandle fd, ref ulong value, nuint count);
}
