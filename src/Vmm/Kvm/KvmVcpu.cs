// A vCPU fd from KVM_CREATE_VCPU and its kvm_run block (Documentation/virt/kvm/api.rst 4.10
// KVM_RUN, 4.11-4.14 registers, section "KVM_SET_CPUID2", section 5 "The kvm_run structure").
// Run it from one thread at a time: api.rst section 1 asks for vCPU ioctls from the thread that
// created the vCPU (others work, slower), and the kick below follows the running thread.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VSwitch.Vmm.Kvm.Interop;
using VSwitch.Vmm.Kvm.Uapi;
using static VSwitch.Vmm.Kvm.Interop.Interop;

namespace VSwitch.Vmm.Kvm;

public sealed class KvmVcpu : IDisposable
{
    /// <summary>offsetof(struct kvm_run, mmio.data); pinned by KvmLayoutTests.</summary>
    internal const int MmioDataOffset = KvmRun.ExitUnionOffset + 8;

    private const int ErrnoInterrupted = 4; // EINTR
    private const int ErrnoNoSuchThread = 3; // ESRCH
    private const int ErrnoTryAgain = 11; // EAGAIN

    private readonly FileDescriptorHandle _fd;
    private readonly MemoryMapping _run;
    private VcpuExit _exit;
    private ulong _ioDataOffset;

    // Which OS thread has the kick signal blocked and KVM's run-time mask set, and which thread
    // (if any) is inside Run now. _lock makes "read the thread, signal it" atomic with Run's
    // "leave": a signal must never be sent to a thread that may have exited (pthread_kill on a
    // dead thread is undefined).
    private readonly Lock _lock = new();
    private int _preparedManagedThread = -1;
    private nuint _preparedThread;
    private nuint _runningThread;

    internal KvmVcpu(uint id, FileDescriptorHandle fd, MemoryMapping run)
    {
        Id = id;
        _fd = fd;
        _run = run;
    }

    public uint Id { get; }

    // A ref into the mapping, bounds-checked by GetSpan; valid while this vCPU is undisposed.
    private ref KvmRun RunBlock => ref MemoryMarshal.AsRef<KvmRun>(_run.GetSpan(0, Unsafe.SizeOf<KvmRun>()));

    public KvmRegs GetRegisters() => Get<KvmRegs>(KvmIoctls.GetRegs, "KVM_GET_REGS");

    public void SetRegisters(in KvmRegs regs) => Set(KvmIoctls.SetRegs, regs, "KVM_SET_REGS");

    public KvmSregs GetSpecialRegisters() => Get<KvmSregs>(KvmIoctls.GetSregs, "KVM_GET_SREGS");

    public void SetSpecialRegisters(in KvmSregs sregs) => Set(KvmIoctls.SetSregs, sregs, "KVM_SET_SREGS");

    /// <summary>KVM_GET_LAPIC: the in-kernel local APIC's register page.</summary>
    public KvmLapicState GetLapic() => Get<KvmLapicState>(KvmIoctls.GetLapic, "KVM_GET_LAPIC");

    public void SetLapic(in KvmLapicState state) => Set(KvmIoctls.SetLapic, state, "KVM_SET_LAPIC");

    public void SetFpu(in KvmFpu fpu) => Set(KvmIoctls.SetFpu, fpu, "KVM_SET_FPU");

    /// <summary>A vCPU ioctl that fills one struct (the request's size field is sizeof(T)).</summary>
    private T Get<T>(uint request, string name) where T : unmanaged
    {
        T value = default;
        KvmThrow.Check(Ioctl(_fd, request, ref value), name);
        return value;
    }

    /// <summary>A vCPU ioctl that reads one struct; KVM takes a pointer, so it gets a private copy.</summary>
    private void Set<T>(uint request, in T value, string name) where T : unmanaged
    {
        T copy = value;
        KvmThrow.Check(Ioctl(_fd, request, ref copy), name);
    }

    /// <summary>
    /// KVM_SET_MSRS. KVM stops at the first MSR it refuses and returns how many it set, so
    /// anything short of all of them is a failure that names the refused MSR.
    /// </summary>
    public void SetMsrs(ReadOnlySpan<KvmMsrEntry> entries)
    {
        byte[] buffer = new byte[Unsafe.SizeOf<KvmMsrsHeader>() + entries.Length * Unsafe.SizeOf<KvmMsrEntry>()];
        MemoryMarshal.Write(buffer, new KvmMsrsHeader { Nmsrs = (uint)entries.Length });
        MemoryMarshal.AsBytes(entries).CopyTo(buffer.AsSpan(Unsafe.SizeOf<KvmMsrsHeader>()));
        int set = KvmThrow.Check(Ioctl(_fd, KvmIoctls.SetMsrs, buffer), "KVM_SET_MSRS");
        if (set != entries.Length)
            KvmThrow.Failure($"KVM_SET_MSRS set {set} of {entries.Length} MSRs; it refused MSR 0x{entries[set].Index:x}");
    }

    /// <summary>KVM_GET_MP_STATE: e.g. whether an AP is still waiting for INIT/SIPI.</summary>
    public KvmMpState GetMpState() => (KvmMpState)Get<uint>(KvmIoctls.GetMpState, "KVM_GET_MP_STATE");

    /// <summary>KVM_SET_CPUID2: what CPUID reports to the guest (usually a filtered KVM_GET_SUPPORTED_CPUID).</summary>
    public void SetCpuid(ReadOnlySpan<KvmCpuidEntry2> entries) =>
        KvmThrow.Check(Ioctl(_fd, KvmIoctls.SetCpuid2, CpuidBuffer.Create(entries)), "KVM_SET_CPUID2");

    /// <summary>
    /// KVM_RUN until the next exit to user space. Returns <see cref="KvmExitReason.Intr"/> when
    /// kicked (<see cref="Kick"/>) or interrupted by another signal; the guest resumes on the next call.
    /// </summary>
    public VcpuExit Run()
    {
        // Held across the ioctl so a Dispose from another thread cannot unmap kvm_run under us.
        bool added = false;
        try
        {
            _run.DangerousAddRef(ref added);
            PrepareThisThread();
            int result;
            do
            {
                result = Ioctl(_fd, KvmIoctls.Run, 0);
            }
            // EAGAIN: an AP waiting for INIT/SIPI in the in-kernel LAPIC (KVM_MP_STATE_UNINITIALIZED)
            // woke up for an event that did not make it runnable yet; KVM asks to be called again
            // (arch/x86/kvm/x86.c kvm_arch_vcpu_ioctl_run; QEMU's kvm_cpu_exec retries the same way).
            while (result == -ErrnoTryAgain);
            lock (_lock)
                _runningThread = 0;

            ref KvmRun run = ref RunBlock;
            if (result < 0)
            {
                if (-result != ErrnoInterrupted)
                    KvmThrow.Ioctl("KVM_RUN", -result);
                // Flag first, then signals: Interop/VcpuSignals.cs says why this order loses no kick.
                Volatile.Write(ref run.ImmediateExit, 0);
                DrainKickSignals();
                return _exit = new VcpuExit(KvmExitReason.Intr);
            }
            return _exit = ReadExit(ref run);
        }
        finally
        {
            if (added)
                _run.DangerousRelease();
        }
    }

    /// <summary>
    /// Makes the running (or next) <see cref="Run"/> return <see cref="KvmExitReason.Intr"/> soon;
    /// callable from any thread. A kick is never lost: at worst it ends the following Run.
    /// </summary>
    public void Kick()
    {
        bool added = false;
        try
        {
            _run.DangerousAddRef(ref added);
            Volatile.Write(ref RunBlock.ImmediateExit, 1);
        }
        finally
        {
            if (added)
                _run.DangerousRelease();
        }
        lock (_lock)
        {
            if (_runningThread == 0)
                return; // not inside KVM_RUN: the flag alone stops the next entry
            int error = SendKick(_runningThread);
            if (error != 0 && error != ErrnoNoSuchThread)
                KvmThrow.Ioctl("pthread_kill (vCPU kick)", error);
        }
    }

    /// <summary>The data of the current IO exit: what an OUT wrote, or where an IN's answer goes.</summary>
    public Span<byte> IoData
    {
        get
        {
            if (_exit.Reason != KvmExitReason.Io)
                throw new InvalidOperationException($"the last exit was {_exit.Reason}, not IO");
            return _run.GetSpan(_ioDataOffset, _exit.Io.Length);
        }
    }

    /// <summary>The data of the current MMIO exit: what a write stored, or where a read's answer goes.</summary>
    public Span<byte> MmioData
    {
        get
        {
            if (_exit.Reason != KvmExitReason.Mmio)
                throw new InvalidOperationException($"the last exit was {_exit.Reason}, not MMIO");
            return _run.GetSpan(MmioDataOffset, _exit.Mmio.Length);
        }
    }

    private void PrepareThisThread()
    {
        int managedThread = Environment.CurrentManagedThreadId;
        if (managedThread != _preparedManagedThread)
        {
            ulong runMask = BlockKickSignalOnThisThread(out nuint thread, out int error);
            if (error != 0)
                KvmThrow.Ioctl("pthread_sigmask (block the vCPU kick signal)", error);
            Span<byte> signalMask = stackalloc byte[Unsafe.SizeOf<KvmSignalMaskHeader>() + KvmSignalMaskHeader.KernelSigsetBytes];
            MemoryMarshal.Write(signalMask, new KvmSignalMaskHeader { Length = KvmSignalMaskHeader.KernelSigsetBytes });
            MemoryMarshal.Write(signalMask[Unsafe.SizeOf<KvmSignalMaskHeader>()..], runMask);
            KvmThrow.Check(Ioctl(_fd, KvmIoctls.SetSignalMask, signalMask), "KVM_SET_SIGNAL_MASK");
            _preparedManagedThread = managedThread;
            _preparedThread = thread;
        }
        lock (_lock)
            _runningThread = _preparedThread;
    }

    private VcpuExit ReadExit(ref KvmRun run)
    {
        var reason = (KvmExitReason)Volatile.Read(ref run.ExitReason);
        switch (reason)
        {
            case KvmExitReason.Io:
            {
                KvmRunIo io = run.Io;
                ulong length = (ulong)io.Size * io.Count;
                if (io.Size is not (1 or 2 or 4) || io.Count == 0 || io.Direction > KvmRunIo.DirectionOut
                    || io.DataOffset > _run.Length || length > _run.Length - io.DataOffset)
                {
                    KvmThrow.Failure($"kvm_run reports an impossible IO exit: size {io.Size}, count {io.Count}, " +
                        $"direction {io.Direction}, data at {io.DataOffset} of a {_run.Length}-byte mapping");
                }
                _ioDataOffset = io.DataOffset;
                return new VcpuExit(reason, io: new IoExit(io.Direction == KvmRunIo.DirectionOut, io.Port, io.Size, (int)io.Count));
            }
            case KvmExitReason.Mmio:
            {
                KvmRunMmio mmio = run.Mmio;
                if (mmio.Len is 0 or > 8)
                    KvmThrow.Failure($"kvm_run reports an MMIO exit of {mmio.Len} bytes; the field holds 1 to 8");
                return new VcpuExit(reason, mmio: new MmioExit(mmio.IsWrite != 0, mmio.PhysAddr, (int)mmio.Len));
            }
            case KvmExitReason.Unknown:
                return new VcpuExit(reason, hardwareReason: run.Hw.HardwareExitReason);
            case KvmExitReason.FailEntry:
                return new VcpuExit(reason, hardwareReason: run.FailEntry.HardwareEntryFailureReason);
            case KvmExitReason.InternalError:
                return new VcpuExit(reason, suberror: run.Internal.Suberror);
            case KvmExitReason.SystemEvent:
                return new VcpuExit(reason, suberror: run.SystemEvent.Type);
            default:
                return new VcpuExit(reason);
        }
    }

    public void Dispose()
    {
        _run.Dispose();
        _fd.Dispose();
    }
}
