// Why a VM stopped, and the vmm process's exit code for each reason (docs/vmm.md, "Exit codes").
// A VMM for one-shot VMs ends where a PC would reboot: a reset is reported, never carried out.
using VSwitch.Common.Cli;

namespace VSwitch.Vmm.Machine;

public enum StopReason
{
    /// <summary>The guest powered off through ACPI (PM1a_CNT SLP_TYP=S5 | SLP_EN).</summary>
    PowerOff,
    /// <summary>The API's "shutdown": the VMM stopped the vCPUs.</summary>
    Shutdown,
    /// <summary>A graceful stop (the API's "stop", SIGTERM) pressed the power button and the guest had not powered off when its time ran out.</summary>
    StopTimeout,
    /// <summary>The guest reset the machine (i8042 0xFE, the FADT reset register, KVM reset event).</summary>
    Reset,
    /// <summary>KVM_EXIT_SHUTDOWN: the guest triple-faulted.</summary>
    TripleFault,
    /// <summary>KVM could not run the guest: internal error, failed VM entry, or an exit the VMM does not handle.</summary>
    KvmError,
    /// <summary>The VMM itself failed while the guest ran (an ioctl refused, a device threw).</summary>
    VmmError,
}

public static class ExitCodes
{
    public const int PowerOff = ExitStatus.Ok;
    public const int Shutdown = ExitStatus.Ok;
    public const int StopTimeout = ExitStatus.Ok;
    /// <summary>A VMM failure while the guest ran.</summary>
    public const int VmmError = ExitStatus.Failed;
    /// <summary>Bad command line, spec, kernel or initramfs: nothing was started.</summary>
    public const int BadInput = ExitStatus.BadInput;
    /// <summary>KVM is not usable on this host (/dev/kvm missing, not permitted, wrong API).</summary>
    public const int NoKvm = 3;
    public const int Reset = 4;
    public const int TripleFault = 5;
    public const int KvmError = 6;

    public static int For(StopReason reason) => reason switch
    {
        StopReason.PowerOff => PowerOff,
        StopReason.Shutdown => Shutdown,
        StopReason.StopTimeout => StopTimeout,
        StopReason.Reset => Reset,
        StopReason.TripleFault => TripleFault,
        StopReason.KvmError => KvmError,
        _ => VmmError,
    };

    /// <summary>The reason as printed and reported by the API: "poweroff", "triple-fault", ...</summary>
    public static string Name(StopReason reason) => reason switch
    {
        StopReason.PowerOff => "poweroff",
        StopReason.Shutdown => "shutdown",
        StopReason.StopTimeout => "stop-timeout",
        StopReason.Reset => "reset",
        StopReason.TripleFault => "triple-fault",
        StopReason.KvmError => "kvm-error",
        _ => "vmm-error",
    };
}

/// <summary>How a VM ended: the reason, and for failures a diagnostic (exit, vCPU, registers).</summary>
public sealed record VmOutcome(StopReason Reason, string? Diagnostic = null)
{
    public int ExitCode => ExitCodes.For(Reason);
}

public enum MachineState
{
    Created,
    Running,
    Paused,
    Stopped,
}
