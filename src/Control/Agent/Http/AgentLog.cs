// What the agent logs, with fixed event ids so an operator can filter them. Nothing per request
// except changes (create, delete, a VM's CPU and power) and failures: listing and showing are not worth a line.
using Microsoft.Extensions.Logging;

namespace VSwitch.Control.Agent.Http;

internal static partial class AgentLog
{
    [LoggerMessage(1, LogLevel.Information, "listening on {Socket} (mode 0660, group {Group}); state in {State}; {Cpus} CPUs × {Overcommit} vCPUs each, {MemoryMib} MiB for VMs")]
    public static partial void Listening(ILogger logger, string socket, string group, string state, int cpus, double overcommit, long memoryMib);

    [LoggerMessage(2, LogLevel.Warning, "refusing a client (pid {Pid}): {Reason}")]
    public static partial void Refused(ILogger logger, int pid, string reason);

    [LoggerMessage(3, LogLevel.Information, "created {Noun} '{Name}'")]
    public static partial void Created(ILogger logger, string noun, string name);

    [LoggerMessage(4, LogLevel.Information, "deleted {Noun} '{Name}'")]
    public static partial void Deleted(ILogger logger, string noun, string name);

    [LoggerMessage(5, LogLevel.Error, "{Method} {Path} failed")]
    public static partial void Failed(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(6, LogLevel.Information, "stopped; removed {Socket}")]
    public static partial void Stopped(ILogger logger, string socket);

    [LoggerMessage(7, LogLevel.Information, "VM '{Name}': cpu_weight {Weight}, cpu_max_percent {Cap}")]
    public static partial void CpuSet(ILogger logger, string name, int weight, string cap);

    [LoggerMessage(8, LogLevel.Information, "VM '{Name}': power {Power}")]
    public static partial void PowerSet(ILogger logger, string name, string power);
}
