// One vCPU's thread: KVM_RUN in a loop, each exit handled on this thread (port I/O and MMIO to
// the device buses, the rest ends the VM), parking between runs while the VM is paused
// (Documentation/virt/kvm/api.rst 4.10 KVM_RUN and section 5 "The kvm_run structure").
// With the in-kernel irqchip, HLT and the local APIC, PIC, IOAPIC and PIT never exit to here.
using System.Diagnostics;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Interop;
using VSwitch.Vmm.Kvm.Uapi;

namespace VSwitch.Vmm.Machine;

/// <summary>Why a vCPU came back to user space, as VcpuThread counts it.</summary>
public enum VcpuExitKind
{
    PortIo,
    Mmio,
    /// <summary>KVM_EXIT_INTR: a signal (a pause or stop request) kicked the vCPU out.</summary>
    Interrupted,
    /// <summary>Everything else; each of these ends the VM.</summary>
    Other,
}

internal sealed class VcpuThread : IDisposable
{
    // KVM_SYSTEM_EVENT_* (include/uapi/linux/kvm.h).
    private const uint SystemEventShutdown = 1;
    private const uint SystemEventReset = 2;

    private readonly VirtualMachine _machine;
    private readonly KvmVcpu _vcpu;
    private readonly Thread _thread;
    // Written by this vCPU's thread alone; others read a snapshot (an aligned long is never torn).
    private readonly long[] _exits = new long[Enum.GetValues<VcpuExitKind>().Length];
    // Stopwatch ticks inside KVM_RUN; written by this thread alone.
    private long _runTicks;
    // The kernel's id of this thread (gettid), 0 until it starts.
    private int _tid;

    public VcpuThread(VirtualMachine machine, KvmVcpu vcpu)
    {
        _machine = machine;
        _vcpu = vcpu;
        // Background: a VMM that fails in its main thread must not be kept alive by a vCPU.
        _thread = new Thread(Loop) { IsBackground = true, Name = $"vcpu{vcpu.Id}" };
    }

    public KvmVcpu Vcpu => _vcpu;

    /// <summary>This vCPU's exits to user space so far, indexed by <see cref="VcpuExitKind"/>.</summary>
    public long[] Exits => [.. _exits];

    /// <summary>Time this vCPU's thread has spent in KVM_RUN.</summary>
    public TimeSpan RunTime => Stopwatch.GetElapsedTime(0, Volatile.Read(ref _runTicks));

    /// <summary>
    /// Time this vCPU's thread has been runnable but waiting for a host CPU: what KVM reports to
    /// the guest as steal time. Null before the thread starts or where the kernel does not keep it.
    /// </summary>
    public TimeSpan? Steal => Volatile.Read(ref _tid) is int tid and not 0 ? SchedStat.RunDelay(tid) : null;

    public void Start() => _thread.Start();

    public void Kick() => _vcpu.Kick();

    public bool Join(TimeSpan timeout) => !_thread.IsAlive || _thread.Join(timeout);

    private void Loop()
    {
        Volatile.Write(ref _tid, Interop.ThreadId());
        try
        {
            while (_machine.WaitWhilePaused())
            {
                long entered = Stopwatch.GetTimestamp();
                VcpuExit exit = _vcpu.Run();
                Volatile.Write(ref _runTicks, _runTicks + Stopwatch.GetTimestamp() - entered);
                VmOutcome? outcome = Handle(exit);
                if (outcome is not null)
                {
                    _machine.RequestStop(outcome);
                    return;
                }
            }
        }
        catch (Exception e)
        {
            _machine.RequestStop(new VmOutcome(StopReason.VmmError, $"vCPU {_vcpu.Id}: {e.GetType().Name}: {e.Message}"));
        }
    }

    /// <summary>Handles one exit; non-null when it ends the VM.</summary>
    private VmOutcome? Handle(VcpuExit exit)
    {
        _exits[(int)(exit.Reason switch
        {
            KvmExitReason.Io => VcpuExitKind.PortIo,
            KvmExitReason.Mmio => VcpuExitKind.Mmio,
            KvmExitReason.Intr => VcpuExitKind.Interrupted,
            _ => VcpuExitKind.Other,
        })]++;
        switch (exit.Reason)
        {
            case KvmExitReason.Io:
                PortIo(exit.Io);
                return null;
            case KvmExitReason.Mmio:
                if (exit.Mmio.IsWrite)
                    _machine.MmioBus.Write(exit.Mmio.Address, _vcpu.MmioData);
                else
                    _machine.MmioBus.Read(exit.Mmio.Address, _vcpu.MmioData);
                return null;
            case KvmExitReason.Intr:
                return null; // a kick: the loop looks at pause and stop requests
            case KvmExitReason.Shutdown:
                return new VmOutcome(StopReason.TripleFault,
                    $"the guest triple-faulted (KVM_EXIT_SHUTDOWN)\n{VcpuDiagnostics.Describe(_vcpu, exit)}");
            case KvmExitReason.SystemEvent when exit.Suberror == SystemEventShutdown:
                return new VmOutcome(StopReason.PowerOff);
            case KvmExitReason.SystemEvent when exit.Suberror == SystemEventReset:
                return new VmOutcome(StopReason.Reset);
            default:
                // KVM_EXIT_INTERNAL_ERROR (e.g. an instruction KVM cannot emulate), FAIL_ENTRY
                // (invalid guest state), and anything this VMM never asked for.
                return new VmOutcome(StopReason.KvmError,
                    $"KVM could not run the guest\n{VcpuDiagnostics.Describe(_vcpu, exit)}");
        }
    }

    // String I/O (REP INS/OUTS) arrives as Count accesses of Size bytes, back to back in the data
    // area; each goes to the device on its own, as the instruction would have done them.
    private void PortIo(IoExit io)
    {
        Span<byte> data = _vcpu.IoData;
        for (int i = 0; i < io.Count; i++)
        {
            Span<byte> access = data.Slice(i * io.Size, io.Size);
            if (io.IsWrite)
                _machine.PortBus.Write(io.Port, access);
            else
                _machine.PortBus.Read(io.Port, access);
        }
    }

    public void Dispose() => _vcpu.Dispose();
}
