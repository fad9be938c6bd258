// struct kvm_run, include/uapi/linux/kvm.h (Documentation/virt/kvm/api.rst section 5 "The kvm_run
// structure"): the block shared with the kernel by mmap()ing a vCPU fd at offset 0. Only x86 is
// described (no __KVM_S390 fields), and of the exit union only the members the VMM reads.
// Offsets: exit_reason 8, union 32, kvm_valid_regs 288, s 304, size 2352 (pinned by KvmLayoutTests).
//
// Every field after KVM_RUN returns is written by a kernel acting for a guest: read each one once,
// validate it, and never trust a size or offset from here without a bounds check.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

[StructLayout(LayoutKind.Explicit, Size = 2352)]
public struct KvmRun
{
    // in
    [FieldOffset(0)] public byte RequestInterruptWindow;
    /// <summary>Non-zero makes KVM_RUN return EINTR at once instead of entering the guest.</summary>
    [FieldOffset(1)] public byte ImmediateExit;

    // out
    [FieldOffset(8)] public uint ExitReason;
    [FieldOffset(12)] public byte ReadyForInterruptInjection;
    [FieldOffset(13)] public byte IfFlag;
    [FieldOffset(14)] public ushort Flags;

    // in (before KVM_RUN), out (after)
    [FieldOffset(16)] public ulong Cr8;
    [FieldOffset(24)] public ulong ApicBase;

    // The exit union: which member is valid follows from ExitReason.
    [FieldOffset(32)] public KvmRunHw Hw;
    [FieldOffset(32)] public KvmRunFailEntry FailEntry;
    [FieldOffset(32)] public KvmRunIo Io;
    [FieldOffset(32)] public KvmRunMmio Mmio;
    [FieldOffset(32)] public KvmRunInternal Internal;
    [FieldOffset(32)] public KvmRunSystemEvent SystemEvent;

    [FieldOffset(288)] public ulong KvmValidRegs;
    [FieldOffset(296)] public ulong KvmDirtyRegs;

    /// <summary>Offset of the union; its size is fixed at 256 bytes by char padding[256].</summary>
    public const int ExitUnionOffset = 32;
    public const int ExitUnionSize = 256;
}

/// <summary>KVM_EXIT_UNKNOWN.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmRunHw
{
    public ulong HardwareExitReason;
}

/// <summary>KVM_EXIT_FAIL_ENTRY: the CPU refused to enter the guest (bad guest state).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmRunFailEntry
{
    public ulong HardwareEntryFailureReason;
    public uint Cpu;
}

/// <summary>KVM_EXIT_IO: an IN/OUT/INS/OUTS the kernel did not handle.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmRunIo
{
    public const byte DirectionIn = 0;   // KVM_EXIT_IO_IN
    public const byte DirectionOut = 1;  // KVM_EXIT_IO_OUT

    public byte Direction;
    /// <summary>Bytes per access: 1, 2 or 4.</summary>
    public byte Size;
    public ushort Port;
    /// <summary>Repetitions (string I/O); the data is Size * Count bytes.</summary>
    public uint Count;
    /// <summary>Where the data lies, relative to the start of the kvm_run mapping.</summary>
    public ulong DataOffset;
}

/// <summary>KVM_EXIT_MMIO: an access to guest-physical memory that no slot backs.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmRunMmio
{
    public ulong PhysAddr;
    public MmioData Data;
    /// <summary>Bytes of <see cref="Data"/> in use, at most 8.</summary>
    public uint Len;
    public byte IsWrite;
}

[InlineArray(8)]
public struct MmioData
{
    private byte _element0;
}

/// <summary>KVM_EXIT_INTERNAL_ERROR.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmRunInternal
{
    public uint Suberror;
    /// <summary>Valid entries of <see cref="Data"/> (KVM_CAP_INTERNAL_ERROR_DATA), at most 16.</summary>
    public uint Ndata;
    public InternalErrorData Data;
}

[InlineArray(16)]
public struct InternalErrorData
{
    private ulong _element0;
}

/// <summary>KVM_EXIT_SYSTEM_EVENT: shutdown, reset, crash (KVM_SYSTEM_EVENT_*).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmRunSystemEvent
{
    public uint Type;
    public uint Ndata;
    public InternalErrorData Data;
}
