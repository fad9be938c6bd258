// A graceful stop, the API's "stop" and what SIGTERM does (docs/vmm.md, "Stopping a VM"): the
// ACPI power button (ACPI 6.4 section 4.8.2.2.1, Devices/AcpiPm), so that the guest's OS shuts
// down, flushing what it has not written yet, and powers off (S5); and the power cord
// (StopReason.StopTimeout) if it has not done so when the time given runs out, since a guest
// that ignores the button, or hangs on its way down, must not keep its VM for ever.
using System.Diagnostics;

namespace VSwitch.Vmm.Machine;

/// <summary>How a graceful stop ended: the VM's outcome, and the time from the press to the stop request.</summary>
public sealed record GracefulStopResult(VmOutcome Outcome, TimeSpan Elapsed)
{
    /// <summary>The guest powered itself off.</summary>
    public bool Graceful => Outcome.Reason == StopReason.PowerOff;
}

public static class GracefulStop
{
    /// <summary>How long the guest gets unless the request says: a Linux guest's shutdown takes seconds, a loaded one more.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The longest timeout a request may ask for.</summary>
    public const int MaxTimeoutSeconds = 600;

    /// <summary>
    /// Presses the power button (resuming a paused VM first: a guest that cannot run cannot see
    /// it) and waits up to <paramref name="timeout"/> for the VM to stop, then stops it hard.
    /// A VM already stopping gets no press: the result is how it ended. Null when the VM has not
    /// started.
    /// </summary>
    public static async Task<GracefulStopResult?> RunAsync(IApiMachine machine, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        machine.Resume();
        if (!machine.PressPowerButton())
            return machine.Outcome.IsCompleted ? new GracefulStopResult(await machine.Outcome.ConfigureAwait(false), TimeSpan.Zero) : null;
        // Timers tick on a coarser clock than Stopwatch and may fire a millisecond early (a stop
        // answered "after 0.999 s" of a 1 s timeout): the guest gets its whole time, by this clock.
        for (TimeSpan left = timeout; left > TimeSpan.Zero; left = timeout - clock.Elapsed)
        {
            try
            {
                return new GracefulStopResult(await machine.Outcome.WaitAsync(left + TimeSpan.FromMilliseconds(1)).ConfigureAwait(false), clock.Elapsed);
            }
            catch (TimeoutException)
            {
            }
        }
        machine.RequestStop(new VmOutcome(StopReason.StopTimeout,
            $"stop: the guest had not powered off {timeout.TotalSeconds:0.###} s after the power button; stopped it hard"));
        // The first request wins: a power-off that came in meanwhile is what happened.
        return new GracefulStopResult(await machine.Outcome.ConfigureAwait(false), clock.Elapsed);
    }
}
