// A live child process as the supervisor holds it: its pid, its identity and the pidfd through
// which it is watched, signalled and reaped. Made in two ways only: Launch starts one, Adopt
// takes over one a previous supervisor started after checking it is still that process.
using Microsoft.Win32.SafeHandles;
using VSwitch.Control.Agent.Supervision.Interop;
using static VSwitch.Control.Agent.Supervision.Interop.Interop;

namespace VSwitch.Control.Agent.Supervision;

/// <summary>A child could not be started; the message says why (missing executable, unwritable log, ...).</summary>
public sealed class ChildStartException(string message) : Exception(message);

internal sealed class ChildProcess : IDisposable
{
    private ChildProcess(int pid, ulong startTime, string executable, FileDescriptorHandle pidfd, bool adopted)
    {
        Pid = pid;
        StartTime = startTime;
        Executable = executable;
        Pidfd = pidfd;
        Adopted = adopted;
    }

    public int Pid { get; }
    public ulong StartTime { get; }
    public string Executable { get; }
    public bool Adopted { get; }

    /// <summary>Readable once the process has exited; the only way it is signalled.</summary>
    public FileDescriptorHandle Pidfd { get; }

    /// <summary>When the supervisor started or adopted it (Stopwatch timestamp), for how long it ran.</summary>
    public long Since { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>Starts <paramref name="spec"/> with its output appended to LOG_DIRECTORY/NAME.log.</summary>
    /// <exception cref="ChildStartException">The working directory is missing, the log cannot be opened, or exec failed.</exception>
    public static ChildProcess Launch(ChildSpec spec, string logDirectory)
    {
        if (!Directory.Exists(spec.WorkingDirectory))
            throw new ChildStartException($"working directory {spec.WorkingDirectory} does not exist");
        Directory.CreateDirectory(logDirectory);
        string logPath = Path.Combine(logDirectory, spec.Name + ".log");
        using SafeFileHandle log = OpenLogForAppend(logPath, out int errno)
            ?? throw new ChildStartException($"cannot open its log {logPath}: {Describe(errno)}");
        string[] argv = [spec.Executable, .. spec.Arguments];
        string[] envp = [.. spec.Environment.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}={e.Value}")];
        int pid = Spawn(spec.Executable, argv, envp, spec.WorkingDirectory, log, out int error);
        if (pid < 0)
            throw new ChildStartException($"{spec.Executable}: {Describe(error)}");
        // Until it is reaped (by this supervisor, through the pidfd) the child's pid cannot be
        // reused, so the pidfd and /proc/PID are certainly this child's even if it already died.
        FileDescriptorHandle pidfd = OpenPidfd(pid, out errno)
            ?? throw new InvalidOperationException($"pidfd_open of new child {spec.Name} (pid {pid}) failed: {Describe(errno)}");
        ulong startTime = ProcStat.TryRead(pid)?.StartTime
            ?? throw new InvalidOperationException($"/proc/{pid}/stat of new child {spec.Name} is missing");
        return new ChildProcess(pid, startTime, spec.Executable, pidfd, adopted: false);
    }

    /// <summary>The process <paramref name="identity"/> names if it still runs, or null and why it is not adopted (never signalled then).</summary>
    public static ChildProcess? Adopt(ChildIdentity identity, out string? refusal)
    {
        refusal = null;
        if (identity.BootId != ChildIdentity.CurrentBootId)
        {
            refusal = "written before the host rebooted";
            return null;
        }
        // The pidfd first, the checks second: if the pid is reused between the two, the checks
        // see the newcomer and refuse it, and the pidfd (of whoever it names) is dropped unused.
        FileDescriptorHandle? pidfd = OpenPidfd(identity.Pid, out int errno);
        if (pidfd is null)
        {
            refusal = errno == ESRCH ? $"pid {identity.Pid} has exited" : $"pidfd_open({identity.Pid}): {Describe(errno)}";
            return null;
        }
        ProcStat? stat = ProcStat.TryRead(identity.Pid);
        if (stat?.StartTime != identity.StartTime)
        {
            refusal = stat is null ? $"pid {identity.Pid} has exited" : $"pid {identity.Pid} is another process now (started at tick {stat.Value.StartTime}, not {identity.StartTime})";
            pidfd.Dispose();
            return null;
        }
        return new ChildProcess(identity.Pid, identity.StartTime, identity.Executable, pidfd, adopted: true);
    }

    /// <summary>Sends <paramref name="signal"/> through the pidfd; an exited process is not an error.</summary>
    public void Signal(int signal)
    {
        int errno = SendSignal(Pidfd, signal);
        if (errno != 0 && errno != ESRCH)
            throw new InvalidOperationException($"cannot signal pid {Pid}: {Describe(errno)}");
    }

    /// <summary>
    /// Once the pidfd is readable: reaps the process if it is this process's child (a started
    /// one, or one a supervisor before this one started in the same agent) and returns how it
    /// ended; Unknown for an adopted child of an earlier agent, which init reaps. Null if it has
    /// not ended after all.
    /// </summary>
    public ExitStatus? Reap()
    {
        int errno = TryReap(Pidfd, out ChildSigInfo info);
        if (errno == ECHILD)
            return ExitStatus.Unknown;
        if (errno != 0)
            throw new InvalidOperationException($"waitid on pid {Pid} failed: {Describe(errno)}");
        return info.Pid == 0 ? null
            : info.Code == CLD_EXITED ? new ExitStatus(info.Status, null)
            : new ExitStatus(null, info.Status);
    }

    public ChildIdentity IdentityOf(ChildSpec spec, int startCount) =>
        new(spec.Name, Pid, StartTime, ChildIdentity.CurrentBootId, Executable, startCount, spec);

    public void Dispose() => Pidfd.Dispose();
}
