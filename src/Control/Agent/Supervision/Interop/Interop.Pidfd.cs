// pidfd_open(2), pidfd_send_signal(2) and waitid(2) with P_PIDFD (Linux 5.4, glibc 2.36): a pidfd
// names one process, not a pid number, so a signal sent through it can never reach a process
// that reused the pid, and waitid on it reaps exactly that process. It turns readable (POLLIN)
// when the process exits, whoever its parent is: the one way to watch a child adopted from a
// previous agent, which waitpid cannot see.
using System.Runtime.InteropServices;

namespace VSwitch.Control.Agent.Supervision.Interop;

internal static partial class Interop
{
    private const int P_PIDFD = 3;
    private const int WNOHANG = 1;
    private const int WEXITED = 4;

    internal const int CLD_EXITED = 1;
    internal const int CLD_KILLED = 2;
    internal const int CLD_DUMPED = 3;

    /// <summary>
    /// siginfo_t as waitid fills it for a child (sigaction(2), "SIGCHLD fills in si_pid, si_uid,
    /// si_status"): the union starts at 16 on 64-bit Linux, aligned for its pointer members.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    internal struct ChildSigInfo
    {
        [FieldOffset(0)] public int Signo;
        [FieldOffset(8)] public int Code;
        [FieldOffset(16)] public int Pid;
        /// <summary>The exit code (Code CLD_EXITED) or the signal that ended it (CLD_KILLED, CLD_DUMPED).</summary>
        [FieldOffset(24)] public int Status;
    }

    /// <summary>A pidfd for <paramref name="pid"/> (always close-on-exec), or null and the errno (ESRCH: no such process).</summary>
    internal static FileDescriptorHandle? OpenPidfd(int pid, out int errno)
    {
        int fd = pidfd_open(pid, 0);
        errno = fd < 0 ? LastErrno() : 0;
        return fd < 0 ? null : new FileDescriptorHandle(fd);
    }

    /// <summary>Sends <paramref name="signal"/> to the pidfd's process; 0 or the errno (ESRCH: it has exited).</summary>
    internal static int SendSignal(FileDescriptorHandle pidfd, int signal) =>
        pidfd_send_signal(pidfd, signal, 0, 0) == 0 ? 0 : LastErrno();

    /// <summary>
    /// Reaps the pidfd's process if it is this process's child and has exited: 0 with
    /// <paramref name="info"/> filled (Pid 0 if it has not exited), or the errno (ECHILD: not
    /// this process's child, such as one adopted from a previous agent).
    /// </summary>
    internal static int TryReap(FileDescriptorHandle pidfd, out ChildSigInfo info)
    {
        bool added = false;
        try
        {
            pidfd.DangerousAddRef(ref added);
            int result;
            do
            {
                result = waitid(P_PIDFD, (uint)pidfd.Number, out info, WEXITED | WNOHANG);
            }
            while (result != 0 && LastErrno() == EINTR);
            return result == 0 ? 0 : LastErrno();
        }
        finally
        {
            if (added)
                pidfd.DangerousRelease();
        }
    }

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int pidfd_open(int pid, uint flags);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int pidfd_send_signal(FileDescriptorHandle pidfd, int signal, nint info, uint flags);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int waitid(int idType, uint id, out ChildSigInfo info, int options);
}
