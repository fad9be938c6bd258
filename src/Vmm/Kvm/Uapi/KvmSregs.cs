// struct kvm_segment, kvm_dtable and kvm_sregs, arch/x86/include/uapi/asm/kvm.h
// (Documentation/virt/kvm/api.rst 4.13 KVM_GET_SREGS, 4.14 KVM_SET_SREGS). Sizes 24, 16 and 312
// bytes; pinned by KvmLayoutTests.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

/// <summary>A segment register as KVM sees it: the descriptor cache, not just the selector.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmSegment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type;
    public byte Present, Dpl, Db, S, L, G, Avl;
    public byte Unusable;
    public byte Padding;
}

/// <summary>GDTR/IDTR.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmDtable
{
    public ulong Base;
    public ushort Limit;
    public ushort Padding0, Padding1, Padding2;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmSregs
{
    public KvmSegment Cs, Ds, Es, Fs, Gs, Ss;
    public KvmSegment Tr, Ldt;
    public KvmDtable Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8;
    public ulong Efer;
    public ulong ApicBase;
    /// <summary>One bit per pending external interrupt vector: (KVM_NR_INTERRUPTS 256 + 63) / 64 words.</summary>
    public InterruptBitmap InterruptBitmap;
}

[InlineArray(4)]
public struct InterruptBitmap
{
    private ulong _element0;
}
