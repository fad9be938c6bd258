// What the supervisor logs, with fixed event ids (100-199, after the agent's own): every start,
// adoption, exit, stop and refusal to adopt; nothing while a child simply runs.
using Microsoft.Extensions.Logging;

namespace VSwitch.Control.Agent.Supervision;

internal static partial class SupervisorLog
{
    [LoggerMessage(101, LogLevel.Information, "started {Name} (pid {Pid}, start {StartCount}): {Executable}")]
    public static partial void Started(ILogger logger, string name, int pid, int startCount, string executable);

    [LoggerMessage(102, LogLevel.Information, "adopted {Name} (pid {Pid}), still running from a previous agent")]
    public static partial void Adopted(ILogger logger, string name, int pid);

    [LoggerMessage(103, LogLevel.Warning, "not adopting {Name}: {Reason}; its state file is dropped and no signal sent")]
    public static partial void NotAdopted(ILogger logger, string name, string reason);

    [LoggerMessage(104, LogLevel.Warning, "{Name} (pid {Pid}) {Exit}; restarting in {Delay} s")]
    public static partial void Died(ILogger logger, string name, int pid, string exit, double delay);

    [LoggerMessage(105, LogLevel.Error, "cannot start {Name}: {Reason}; retrying in {Delay} s")]
    public static partial void StartFailed(ILogger logger, string name, string reason, double delay);

    [LoggerMessage(106, LogLevel.Information, "stopping {Name} (pid {Pid}) with {Signal}")]
    public static partial void Stopping(ILogger logger, string name, int pid, string signal);

    [LoggerMessage(107, LogLevel.Information, "{Name} (pid {Pid}) stopped: {Exit}")]
    public static partial void Stopped(ILogger logger, string name, int pid, string exit);

    [LoggerMessage(109, LogLevel.Error, "killing {Name} (pid {Pid}): {Reason}")]
    public static partial void Unrecorded(ILogger logger, string name, int pid, string reason);

    [LoggerMessage(110, LogLevel.Critical, "the supervision loop failed; children are no longer watched")]
    public static partial void LoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(108, LogLevel.Error, "supervising {Name} failed")]
    public static partial void Failed(ILogger logger, Exception exception, string name);
}
