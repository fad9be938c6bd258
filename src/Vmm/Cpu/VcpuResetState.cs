// What every vCPU needs besides its registers before Linux runs on it, after Firecracker's x86_64
// setup (src/vmm/src/arch/x86_64/regs.rs setup_fpu, msr.rs create_boot_msr_entries,
// interrupts.rs set_lint), which boots the same stock kernels:
// - x87/SSE control words at their power-on values (Intel SDM vol. 1, 8.1.5 "x87 FPU Control
//   Word" 0x37F; 10.2.3.1 "SIMD Floating-Point Mask and Flag Bits" MXCSR 0x1F80);
// - boot MSRs: the syscall/sysenter MSRs cleared, fast strings on, and MTRRs enabled with
//   write-back as the default type (SDM vol. 3A, 11.11.2.1 "IA32_MTRR_DEF_TYPE MSR"): without
//   the MTRR default Linux maps all RAM uncached (and says "MTRRs disabled"), which is slow;
// - the local APIC's LINT0 as ExtINT (the 8259 PIC's output) and LINT1 as NMI, the virtual-wire
//   wiring the MP specification (1.4, section 3.6.2.2) and ACPI's MADT assume for the BSP, so
//   the PIC's timer interrupt reaches the CPU before the IOAPIC is set up.
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;

namespace VSwitch.Vmm.Cpu;

public static class VcpuResetState
{
    private const ushort FpuControlWord = 0x37F;
    private const uint MxcsrDefault = 0x1F80;

    // MSR numbers: SDM vol. 4, chapter 2 "Model-Specific Registers".
    private const uint Ia32Tsc = 0x10;
    private const uint Ia32SysenterCs = 0x174, Ia32SysenterEsp = 0x175, Ia32SysenterEip = 0x176;
    private const uint Ia32MiscEnable = 0x1A0;
    private const uint Ia32MtrrDefType = 0x2FF;
    private const uint Star = 0xC000_0081, Lstar = 0xC000_0082, Cstar = 0xC000_0083, SyscallMask = 0xC000_0084;
    private const uint KernelGsBase = 0xC000_0102;

    private const ulong MiscEnableFastStrings = 1;
    private const ulong MtrrEnable = 1 << 11;
    private const ulong MtrrTypeWriteBack = 6;

    // LVT delivery mode, bits 8-10 (SDM vol. 3A, figure 11-8 "Local Vector Table").
    private const uint LvtDeliveryModeMask = 0x7 << 8;
    private const uint DeliveryModeNmi = 0x4 << 8;
    private const uint DeliveryModeExtInt = 0x7 << 8;

    /// <summary>FPU, boot MSRs and LINT0/LINT1, for any vCPU (BSP or AP) before its first KVM_RUN.</summary>
    public static void Apply(KvmVcpu vcpu)
    {
        vcpu.SetFpu(new KvmFpu { Fcw = FpuControlWord, Mxcsr = MxcsrDefault });
        vcpu.SetMsrs(BootMsrs);

        KvmLapicState lapic = vcpu.GetLapic();
        lapic.Write(KvmLapicState.LvtLint0, (lapic.Read(KvmLapicState.LvtLint0) & ~LvtDeliveryModeMask) | DeliveryModeExtInt);
        lapic.Write(KvmLapicState.LvtLint1, (lapic.Read(KvmLapicState.LvtLint1) & ~LvtDeliveryModeMask) | DeliveryModeNmi);
        vcpu.SetLapic(lapic);
    }

    private static readonly KvmMsrEntry[] BootMsrs =
    [
        new() { Index = Ia32SysenterCs },
        new() { Index = Ia32SysenterEsp },
        new() { Index = Ia32SysenterEip },
        new() { Index = Star },
        new() { Index = Cstar },
        new() { Index = KernelGsBase },
        new() { Index = SyscallMask },
        new() { Index = Lstar },
        new() { Index = Ia32Tsc },
        new() { Index = Ia32MiscEnable, Data = MiscEnableFastStrings },
        new() { Index = Ia32MtrrDefType, Data = MtrrEnable | MtrrTypeWriteBack },
    ];
}
