// What the supervisor reports about each child, for the agent to show and export: whether it
// runs (its pid and how often it was started), is being stopped, or waits to be restarted (until
// when), and how its last run ended.
namespace VSwitch.Control.Agent.Supervision;

public enum ChildState
{
    /// <summary>The process runs (started by this supervisor or adopted).</summary>
    Running,
    /// <summary>No longer desired, or desired differently: SIGTERM sent, SIGKILL after the stop timeout.</summary>
    Stopping,
    /// <summary>Died or could not be started; restarts at RestartAt.</summary>
    BackingOff,
}

/// <param name="StartCount">Starts of this child since the supervisor first knew it, those of the agents before this one included when it was adopted.</param>
/// <param name="Adopted">The process was started by a previous supervisor (an agent before a restart) and found alive.</param>
/// <param name="RestartAt">When a child that is BackingOff is started again.</param>
/// <param name="LastError">Why the last start failed, if it did.</param>
public sealed record ChildStatus(
    string Name,
    ChildState State,
    int? Pid,
    int StartCount,
    bool Adopted,
    DateTimeOffset? RestartAt,
    ExitStatus? LastExit,
    string? LastError);

/// <summary>How a process ended: its exit code, the signal that killed it, or unknown when it was not this process's child (adopted) and so could not be reaped here.</summary>
public readonly record struct ExitStatus(int? Code, int? Signal)
{
    public static ExitStatus Unknown => new(null, null);

    public override string ToString() => (Code, Signal) switch
    {
        ({ } code, _) => $"exited with status {code}",
        (_, { } signal) => $"killed by signal {signal}",
        _ => "ended, status unknown (not this process's child)",
    };
}
