// /v1/status's vswitchd convergence is about the process the last pass checked
// (HostReconciler.Current): after a kill, the restarted vswitchd is not reported converged on
// its predecessor's check.
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Api;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Reconcile;

public sealed class ConvergenceTests
{
    private static readonly VswitchdConvergence Converged = new(true, null, DateTimeOffset.UnixEpoch, "/run/vswitchd.yaml");

    [Fact]
    public void A_check_holds_for_the_process_it_checked_only()
    {
        Assert.Same(Converged, HostReconciler.Current(Converged, checkedPid: 42, pid: 42));
        Assert.Equal(Converged with { Converged = false, LastError = "vswitchd was restarted (pid 43) since the last check; the next pass checks it" },
            HostReconciler.Current(Converged, checkedPid: 42, pid: 43));
        Assert.Equal(Converged with { Converged = false, LastError = "vswitchd is not running" }, HostReconciler.Current(Converged, checkedPid: 42, pid: null));
        VswitchdConvergence failed = Converged with { Converged = false, LastError = "unreachable" };
        Assert.Same(failed, HostReconciler.Current(failed, checkedPid: 42, pid: 43));
    }
}
