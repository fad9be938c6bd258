// KVM_EXIT_* of include/uapi/linux/kvm.h: the values of kvm_run.exit_reason. The numbers are ABI.
namespace VSwitch.Vmm.Kvm.Uapi;

public enum KvmExitReason : uint
{
    Unknown = 0,
    Exception = 1,
    Io = 2,
    Hypercall = 3,
    Debug = 4,
    Hlt = 5,
    Mmio = 6,
    IrqWindowOpen = 7,
    Shutdown = 8,
    FailEntry = 9,
    /// <summary>KVM_RUN returned EINTR: a signal or immediate_exit, not the guest.</summary>
    Intr = 10,
    SetTpr = 11,
    TprAccess = 12,
    Nmi = 16,
    InternalError = 17,
    Watchdog = 21,
    SystemEvent = 24,
    IoapicEoi = 26,
    Hyperv = 27,
    X86Rdmsr = 29,
    X86Wrmsr = 30,
    DirtyRingFull = 31,
    ApResetHold = 32,
    X86BusLock = 33,
    Xen = 34,
    Notify = 37,
}
