// What the reconcile loop logs, with fixed event ids (the HTTP server's are 1..9, the
// supervisor's 101..110). A failure is logged when it first happens or changes, not at every
// retry: a vswitchd that stays down would otherwise fill the log once a second.
using Microsoft.Extensions.Logging;

namespace VSwitch.Control.Agent.Reconcile;

internal static partial class ReconcileLog
{
    [LoggerMessage(201, LogLevel.Information, "wrote vswitchd's configuration {Path}")]
    public static partial void Wrote(ILogger logger, string path);

    [LoggerMessage(202, LogLevel.Information, "vswitchd: {Op}")]
    public static partial void Applied(ILogger logger, string op);

    [LoggerMessage(203, LogLevel.Information, "vswitchd serves the desired state")]
    public static partial void Converged(ILogger logger);

    [LoggerMessage(204, LogLevel.Warning, "vswitchd does not serve the desired state yet: {Reason}; retrying every {Retry} s")]
    public static partial void NotConverged(ILogger logger, string reason, double retry);

    [LoggerMessage(205, LogLevel.Warning, "restarting vswitchd on its configuration: {Reason}")]
    public static partial void Restarting(ILogger logger, string reason);

    [LoggerMessage(206, LogLevel.Error, "the reconcile pass failed; retrying every {Retry} s")]
    public static partial void Failed(ILogger logger, Exception exception, double retry);

    [LoggerMessage(207, LogLevel.Warning, "{Problem}; retrying every {Retry} s")]
    public static partial void VmNotReady(ILogger logger, string problem, double retry);
}
