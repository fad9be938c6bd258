// What the boot CPU's registers hold at the kernel's 64-bit entry (Documentation/arch/x86/
// boot.rst, "64-bit Boot Protocol": long mode with paging, identity-mapped kernel, zero page and
// command line; %rsi = the zero page; interrupts disabled; CS/DS/ES/SS flat 4G segments;
// Firecracker's arch/x86_64/regs.rs sets the same). The other vCPUs need nothing: they wait for
// INIT/SIPI from the boot CPU through the in-kernel local APIC.
using VSwitch.Vmm.Kvm.Uapi;
using VSwitch.Vmm.Layout;

namespace VSwitch.Vmm.Boot;

public sealed class BootCpuState
{
    public const ulong Cr0ProtectionEnable = 1UL << 0;
    public const ulong Cr0ExtensionType = 1UL << 4;
    public const ulong Cr0Paging = 1UL << 31;
    public const ulong Cr4Pae = 1UL << 5;
    public const ulong EferLme = 1UL << 8;
    public const ulong EferLma = 1UL << 10;

    /// <summary>RFLAGS bit 1 is reserved and always set; IF is clear.</summary>
    public const ulong InitialRflags = 0x2;

    /// <summary>The 64-bit entry point: protected-mode kernel load address + 0x200.</summary>
    public const ulong Entry64Offset = 0x200;

    /// <summary>The state for a kernel loaded at <paramref name="kernelLoadAddress"/>.</summary>
    public static BootCpuState ForKernelAt(ulong kernelLoadAddress)
    {
        ReadOnlySpan<ulong> gdt = BootGdt.Entries;
        return new BootCpuState
        {
            Registers = new KvmRegs
            {
                Rip = kernelLoadAddress + Entry64Offset,
                Rsi = MemoryLayout.ZeroPage,
                Rsp = MemoryLayout.BootStack,
                Rbp = MemoryLayout.BootStack,
                Rflags = InitialRflags,
            },
            Code = BootGdt.Segment(gdt[1], BootGdt.CodeSelector),
            Data = BootGdt.Segment(gdt[2], BootGdt.DataSelector),
            Tss = BootGdt.Segment(gdt[3], BootGdt.TssSelector),
            Gdt = new KvmDtable { Base = MemoryLayout.Gdt, Limit = BootGdt.Limit },
            Idt = new KvmDtable { Base = MemoryLayout.Idt, Limit = BootGdt.IdtLimit },
            Cr0 = Cr0ProtectionEnable | Cr0ExtensionType | Cr0Paging,
            Cr3 = MemoryLayout.Pml4,
            Cr4 = Cr4Pae,
            Efer = EferLme | EferLma,
        };
    }

    /// <summary>General registers for KVM_SET_REGS (RIP, RSI, RSP, RBP, RFLAGS; the rest 0).</summary>
    public KvmRegs Registers { get; init; }

    /// <summary>CS: 64-bit code segment.</summary>
    public KvmSegment Code { get; init; }

    /// <summary>DS, ES, FS, GS, SS: flat data segment.</summary>
    public KvmSegment Data { get; init; }

    /// <summary>TR: busy 64-bit TSS (VM entry refuses an unusable TR).</summary>
    public KvmSegment Tss { get; init; }

    public KvmDtable Gdt { get; init; }
    public KvmDtable Idt { get; init; }
    public ulong Cr0 { get; init; }
    public ulong Cr3 { get; init; }
    public ulong Cr4 { get; init; }
    public ulong Efer { get; init; }

    /// <summary>
    /// Writes the boot state into <paramref name="sregs"/> as read by KVM_GET_SREGS, keeping what
    /// KVM owns (APIC base, CR8, pending interrupts, LDT); then KVM_SET_SREGS it.
    /// </summary>
    public void ApplyTo(ref KvmSregs sregs)
    {
        sregs.Cs = Code;
        sregs.Ds = sregs.Es = sregs.Fs = sregs.Gs = sregs.Ss = Data;
        sregs.Tr = Tss;
        sregs.Gdt = Gdt;
        sregs.Idt = Idt;
        sregs.Cr0 = Cr0;
        sregs.Cr3 = Cr3;
        sregs.Cr4 = Cr4;
        sregs.Efer = Efer;
    }
}
