// Open file description locks on byte ranges (fcntl(2) F_OFD_SETLK/F_OFD_SETLKW, Linux 3.15):
// what the volume pool's processes coordinate with. They are independent of flock(2), which .NET
// itself takes on every file it opens, and of the classic POSIX record locks that any close() in
// the process drops; an OFD lock goes only with its own descriptor, and with the process.
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VSwitch.Vmm.Kvm.Interop;

internal enum RangeLockKind : short
{
    Shared = 0,     // F_RDLCK
    Exclusive = 1,  // F_WRLCK
    Unlock = 2,     // F_UNLCK
}

internal static partial class Interop
{
    private const int FOfdSetLock = 37;      // F_OFD_SETLK
    private const int FOfdSetLockWait = 38;  // F_OFD_SETLKW
    private const int ErrnoInterrupted = 4;  // EINTR

    // struct flock on x86-64 (include/uapi/asm-generic/fcntl.h): l_pid must be 0 for OFD locks.
    [StructLayout(LayoutKind.Sequential)]
    private struct FileLockRange
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int Pid;
        private readonly int _padding;
    }

    /// <summary>
    /// Takes (or, with <see cref="RangeLockKind.Unlock"/>, drops) a lock on [start, start + length)
    /// of <paramref name="file"/>. With <paramref name="wait"/> it blocks until granted; without,
    /// it returns EAGAIN when another descriptor holds a conflicting lock. 0, or the errno.
    /// </summary>
    internal static int LockRange(SafeFileHandle file, long start, long length, RangeLockKind kind, bool wait)
    {
        var range = new FileLockRange { Type = (short)kind, Whence = 0, Start = start, Length = length };
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            while (true)
            {
                if (Fcntl((int)file.DangerousGetHandle(), wait ? FOfdSetLockWait : FOfdSetLock, ref range) == 0)
                    return 0;
                int errno = Marshal.GetLastPInvokeError();
                if (errno != ErrnoInterrupted)
                    return errno;
            }
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, ref FileLockRange range);
}
