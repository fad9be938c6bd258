// Kicking a vCPU thread out of KVM_RUN (Documentation/virt/kvm/api.rst 4.10 KVM_RUN: "EINTR an
// unmasked signal is pending"; section "KVM_SET_SIGNAL_MASK"; kvm_run.immediate_exit, with
// KVM_CAP_IMMEDIATE_EXIT). This is QEMU's scheme (kvm_eat_signals), chosen over a signal handler:
//
// - The kick signal stays BLOCKED on the vCPU thread in user space and is unblocked only while
//   the thread is inside KVM_RUN (KVM_SET_SIGNAL_MASK). So no handler ever runs: a managed
//   UnmanagedCallersOnly handler would fail fast if the signal landed while the thread was in
//   managed code, and .NET keeps SIGRTMIN for itself (thread activation), hence SIGRTMIN + 1.
// - A kick sets immediate_exit first, then signals: a thread about to enter KVM_RUN sees the
//   flag and returns EINTR at once, a thread inside it is interrupted by the signal. After the
//   EINTR the VMM clears the flag and then drains the (still blocked, so pending) signal; in that
//   order no kick is lost: one that races the drain makes the next KVM_RUN return EINTR instead.
using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VSwitch.Vmm.Kvm.Interop;

internal static unsafe partial class Interop
{
    /// <summary>The real-time signal that kicks vCPU threads.</summary>
    internal static int VcpuKickSignal => LibC.SIGRTMIN + 1;

    [LibraryImport("libc", EntryPoint = "pthread_self")]
    [SuppressGCTransition] // returns a thread-register value; cannot block
    private static partial nuint PthreadSelf();

    /// <summary>
    /// Blocks the kick signal on the calling thread and returns the kernel sigset (64 bits) that
    /// KVM_RUN should use instead: the thread's previous mask without the kick signal.
    /// </summary>
    internal static ulong BlockKickSignalOnThisThread(out nuint thread, out int errno)
    {
        sigset_t kick, previous;
        LibC.sigemptyset(&kick);
        LibC.sigaddset(&kick, VcpuKickSignal);
        // SAFETY: both sets are locals of the size glibc expects (sigset_t, 128 bytes).
        if (LibC.pthread_sigmask(LibC.SIG_BLOCK, &kick, &previous) is int rc and not 0)
        {
            // pthread_sigmask returns the error number instead of setting errno.
            errno = rc;
            thread = 0;
            return 0;
        }
        LibC.sigdelset(&previous, VcpuKickSignal);
        errno = 0;
        thread = PthreadSelf();
        // The kernel's sigset for signals 1..64 is the first 64 bits of glibc's sigset_t.
        return *(ulong*)&previous;
    }

    /// <summary>pthread_kill(thread, kick signal); 0 or an error number.</summary>
    // SAFETY: pthread_t is an unsigned long on Linux, the size of nuint; thread came from pthread_self.
    internal static int SendKick(nuint thread) => LibC.pthread_kill(*(pthread_t*)&thread, VcpuKickSignal);

    /// <summary>Consumes pending kick signals of the calling thread (where it is blocked) without waiting.</summary>
    internal static void DrainKickSignals()
    {
        sigset_t kick;
        LibC.sigemptyset(&kick);
        LibC.sigaddset(&kick, VcpuKickSignal);
        timespec zero = default;
        // SAFETY: locals only; sigtimedwait with a zero timeout returns -1/EAGAIN when none is pending.
        while (LibC.sigtimedwait(&kick, null, &zero) == VcpuKickSignal)
        {
        }
    }
}
