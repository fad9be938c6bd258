// Why KVM_RUN returned, copied out of kvm_run once and validated (include/uapi/linux/kvm.h,
// Documentation/virt/kvm/api.rst section 5 "The kvm_run structure"). kvm_run is shared memory
// that the kernel rewrites on each exit on behalf of the guest, so the VMM decides on this copy,
// never on a second read of the shared block.
using VSwitch.Vmm.Kvm.Uapi;

namespace VSwitch.Vmm.Kvm;

public readonly struct VcpuExit
{
    internal VcpuExit(KvmExitReason reason, IoExit io = default, MmioExit mmio = default, ulong hardwareReason = 0,
        uint suberror = 0)
    {
        Reason = reason;
        Io = io;
        Mmio = mmio;
        HardwareReason = hardwareReason;
        Suberror = suberror;
    }

    /// <summary>kvm_run.exit_reason; <see cref="KvmExitReason.Intr"/> when KVM_RUN returned EINTR (a kick).</summary>
    public KvmExitReason Reason { get; }

    /// <summary>Valid for <see cref="KvmExitReason.Io"/>; the data is <see cref="KvmVcpu.IoData"/>.</summary>
    public IoExit Io { get; }

    /// <summary>Valid for <see cref="KvmExitReason.Mmio"/>; the data is <see cref="KvmVcpu.MmioData"/>.</summary>
    public MmioExit Mmio { get; }

    /// <summary>hw.hardware_exit_reason (Unknown) or fail_entry.hardware_entry_failure_reason (FailEntry).</summary>
    public ulong HardwareReason { get; }

    /// <summary>internal.suberror (InternalError) or system_event.type (SystemEvent).</summary>
    public uint Suberror { get; }

    public override string ToString() => Reason switch
    {
        KvmExitReason.Io => $"IO {(Io.IsWrite ? "out" : "in")} port 0x{Io.Port:x} size {Io.Size} count {Io.Count}",
        KvmExitReason.Mmio => $"MMIO {(Mmio.IsWrite ? "write" : "read")} 0x{Mmio.Address:x} length {Mmio.Length}",
        KvmExitReason.FailEntry or KvmExitReason.Unknown => $"{Reason} hardware reason 0x{HardwareReason:x}",
        KvmExitReason.InternalError or KvmExitReason.SystemEvent => $"{Reason} {Suberror}",
        _ => Reason.ToString(),
    };
}

/// <summary>A port I/O exit: <see cref="Count"/> accesses of <see cref="Size"/> bytes.</summary>
public readonly record struct IoExit(bool IsWrite, ushort Port, int Size, int Count)
{
    /// <summary>Bytes of data for the whole access.</summary>
    public int Length => Size * Count;
}

/// <summary>An MMIO exit of <see cref="Length"/> (1..8) bytes.</summary>
public readonly record struct MmioExit(bool IsWrite, ulong Address, int Length);
