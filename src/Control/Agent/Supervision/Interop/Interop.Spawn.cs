// posix_spawn(3) as the supervisor starts a child (docs/agent.md, "Supervision"):
// - POSIX_SPAWN_SETSID (glibc 2.26): the child leads a new session and process group, so a
//   signal to the agent's group (a terminal's Ctrl-C, a service manager killing the group) does
//   not reach it and it outlives the agent. No PR_SET_PDEATHSIG: the agent's death must not be
//   the child's.
// - POSIX_SPAWN_SETSIGDEF with every signal and an empty POSIX_SPAWN_SETSIGMASK: the runtime
//   ignores SIGPIPE, and an ignored signal stays ignored across exec; the child starts as from a
//   shell, every signal at its default and none blocked.
// - stdin from /dev/null, stdout and stderr to the log the caller opened (dup2 clears its
//   O_CLOEXEC in the child), the working directory (addchdir_np, glibc 2.29), and every other
//   descriptor closed (addclosefrom_np, glibc 2.34): the runtime opens its own with O_CLOEXEC,
//   but nothing guarantees every library does, and a leaked socket would outlive the agent.
// glibc's posix_spawn uses clone(CLONE_VM | CLONE_VFORK), safe in a multi-threaded process, and
// returns exec's error (ENOENT, EACCES) to the caller instead of a child that exits 127.
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VSwitch.Control.Agent.Supervision.Interop;

internal static partial class Interop
{
    private const short POSIX_SPAWN_SETSIGDEF = 0x04;
    private const short POSIX_SPAWN_SETSIGMASK = 0x08;
    private const short POSIX_SPAWN_SETSID = 0x80;
    private const int O_RDONLY = 0;

    /// <summary>
    /// Room for glibc's opaque posix_spawnattr_t (336 bytes on 64-bit) and
    /// posix_spawn_file_actions_t (80 bytes), with headroom. Neither points into itself, so a
    /// managed array that moves between calls is fine; it is pinned during each call.
    /// </summary>
    private const int OpaqueBytes = 512;

    /// <summary>sizeof(sigset_t) in glibc: 1024 bits.</summary>
    private const int SigsetBytes = 128;

    /// <summary>Starts <paramref name="executable"/>; returns its pid or the error number posix_spawn gave.</summary>
    /// <param name="argv">argv without the terminating null.</param>
    /// <param name="envp">"NAME=value" entries without the terminating null.</param>
    internal static int Spawn(string executable, string[] argv, string[] envp, string workingDirectory, SafeFileHandle log, out int error)
    {
        byte[] attributes = new byte[OpaqueBytes];
        byte[] actions = new byte[OpaqueBytes];
        byte[] noSignals = new byte[SigsetBytes];
        byte[] allSignals = new byte[SigsetBytes];
        bool added = false;
        Check(posix_spawnattr_init(attributes));
        try
        {
            Check(posix_spawn_file_actions_init(actions));
            try
            {
                log.DangerousAddRef(ref added);
                int logFd = (int)log.DangerousGetHandle();
                _ = sigemptyset(noSignals);
                _ = sigfillset(allSignals);
                Check(posix_spawnattr_setflags(attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
                Check(posix_spawnattr_setsigmask(attributes, noSignals));
                Check(posix_spawnattr_setsigdefault(attributes, allSignals));
                Check(posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0));
                Check(posix_spawn_file_actions_adddup2(actions, logFd, 1));
                Check(posix_spawn_file_actions_adddup2(actions, logFd, 2));
                Check(posix_spawn_file_actions_addclosefrom_np(actions, 3));
                Check(posix_spawn_file_actions_addchdir_np(actions, workingDirectory));
                error = posix_spawn(out int pid, executable, actions, attributes, [.. argv, null], [.. envp, null]);
                return error == 0 ? pid : -1;
            }
            finally
            {
                if (added)
                    log.DangerousRelease();
                _ = posix_spawn_file_actions_destroy(actions);
            }
        }
        finally
        {
            _ = posix_spawnattr_destroy(attributes);
        }
    }

    /// <summary>The attribute and action setters fail only on ENOMEM or a bad argument: a bug or an exhausted host, not a child's fault.</summary>
    private static void Check(int error)
    {
        if (error != 0)
            throw new InvalidOperationException($"preparing posix_spawn failed: {Describe(error)}");
    }

    /// <summary>Opens (creating, mode 0640) <paramref name="path"/> to append to, close-on-exec; null and the errno if it cannot.</summary>
    internal static SafeFileHandle? OpenLogForAppend(string path, out int errno)
    {
        const int O_WRONLY = 0x1, O_CREAT = 0x40, O_APPEND = 0x400, O_CLOEXEC = 0x80000;
        // O_APPEND rather than FileMode.Append's seek to the end: a child restarted while the
        // previous one's output is still being written, or a log rotated by copytruncate, never
        // has its lines overwritten.
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0b110_100_000);
        errno = fd < 0 ? LastErrno() : 0;
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);

    // posix_spawn returns its error number; it does not set errno.
    [LibraryImport(Libc, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int posix_spawn(out int pid, string path, byte[] fileActions, byte[] attributes, string?[] argv, string?[] envp);

    [LibraryImport(Libc)]
    private static partial int posix_spawnattr_init(byte[] attributes);

    [LibraryImport(Libc)]
    private static partial int posix_spawnattr_destroy(byte[] attributes);

    [LibraryImport(Libc)]
    private static partial int posix_spawnattr_setflags(byte[] attributes, short flags);

    [LibraryImport(Libc)]
    private static partial int posix_spawnattr_setsigmask(byte[] attributes, byte[] mask);

    [LibraryImport(Libc)]
    private static partial int posix_spawnattr_setsigdefault(byte[] attributes, byte[] signals);

    [LibraryImport(Libc)]
    private static partial int posix_spawn_file_actions_init(byte[] actions);

    [LibraryImport(Libc)]
    private static partial int posix_spawn_file_actions_destroy(byte[] actions);

    [LibraryImport(Libc, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int posix_spawn_file_actions_addopen(byte[] actions, int fd, string path, int flags, uint mode);

    [LibraryImport(Libc)]
    private static partial int posix_spawn_file_actions_adddup2(byte[] actions, int fd, int newFd);

    [LibraryImport(Libc)]
    private static partial int posix_spawn_file_actions_addclosefrom_np(byte[] actions, int from);

    [LibraryImport(Libc, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int posix_spawn_file_actions_addchdir_np(byte[] actions, string path);

    [LibraryImport(Libc)]
    private static partial int sigemptyset(byte[] set);

    [LibraryImport(Libc)]
    private static partial int sigfillset(byte[] set);
}
