// Where the supervisor keeps its children's identities and logs, and its timings.
namespace VSwitch.Control.Agent.Supervision;

/// <param name="StateDirectory">One NAME.json per running child (ChildIdentity). Best on a tmpfs such as /run/vswitch: an identity is only worth something during the boot its process lives in.</param>
/// <param name="LogDirectory">Each child's stdout and stderr are appended to NAME.log here.</param>
public sealed record SupervisorOptions(string StateDirectory, string LogDirectory)
{
    public RestartBackoff Backoff { get; init; } = RestartBackoff.Default;

    /// <summary>How long a child has between SIGTERM and SIGKILL: 10 s, time for a VMM to flush its volumes and vswitchd to release its ports.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
