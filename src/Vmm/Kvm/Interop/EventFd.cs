// eventfd(2): the counter KVM and a vhost-user backend signal each other through without the
// VMM's user space. A queue's kick is an eventfd KVM signals on the guest's notify write
// (KVM_IOEVENTFD) and the backend waits on; its call is one the backend signals and KVM turns
// into the guest's interrupt (KVM_IRQFD). Non-blocking: Signal never waits, and Wait polls.
using Tmds.Linux;

namespace VSwitch.Vmm.Kvm.Interop;

public sealed unsafe class EventFd : IDisposable
{
    private readonly FileDescriptorHandle _fd;

    private EventFd(FileDescriptorHandle fd) => _fd = fd;

    /// <summary>A new eventfd with a count of 0 (close-on-exec, non-blocking).</summary>
    public static EventFd Create()
    {
        int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (fd < 0)
        {
            int errno = Interop.LastErrno();
            throw new KvmException($"eventfd failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
        }
        return new EventFd(new FileDescriptorHandle(fd));
    }

    internal FileDescriptorHandle Handle => _fd;

    /// <summary>Adds 1 to the count, waking whoever waits on it.</summary>
    public void Signal()
    {
        ulong one = 1;
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            // SAFETY: one is a local 8-byte value, the size eventfd's write takes.
            _ = LibC.write((int)_fd.DangerousGetHandle(), &one, sizeof(ulong));
        }
        finally
        {
            if (added)
                _fd.DangerousRelease();
        }
    }

    /// <summary>Takes the count (0 when nothing was signalled since the last take).</summary>
    public ulong Take()
    {
        ulong count = 0;
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            // SAFETY: count is a local 8-byte value, the size eventfd's read fills.
            long read = LibC.read((int)_fd.DangerousGetHandle(), &count, sizeof(ulong));
            return read == sizeof(ulong) ? count : 0;
        }
        finally
        {
            if (added)
                _fd.DangerousRelease();
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> (or for ever: <see cref="Timeout.InfiniteTimeSpan"/>) for a signal and takes the count; 0 on timeout.</summary>
    public ulong Wait(TimeSpan timeout)
    {
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            var poll = new pollfd { fd = (int)_fd.DangerousGetHandle(), events = LibC.POLLIN };
            // SAFETY: poll is a local pollfd, and the count passed is 1.
            int milliseconds = timeout == Timeout.InfiniteTimeSpan ? -1 : (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue);
            _ = LibC.poll(&poll, 1, milliseconds);
        }
        finally
        {
            if (added)
                _fd.DangerousRelease();
        }
        return Take();
    }

    public void Dispose() => _fd.Dispose();
}
