// A real vCPU runs hand-assembled 16-bit code and the VMM sees each exit to user space in order
// (Documentation/virt/kvm/api.rst section 5 "The kvm_run structure": KVM_EXIT_IO, KVM_EXIT_MMIO,
// KVM_EXIT_HLT). Encodings: Intel SDM vol. 2 (16-bit operand and address size, no prefixes
// unless shown).
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;
using Xunit;

namespace VSwitch.Tests.Kvm.Kvm;

public class RealModeExitTests
{
    private static readonly byte[] OutMmioWriteHlt =
    [
        0xBA, 0xF8, 0x03,                         // 1000  mov dx, 0x03f8      COM1's data port
        0xB0, 0x5A,                               // 1003  mov al, 0x5a
        0xEE,                                     // 1005  out dx, al          -> KVM_EXIT_IO out 0x3f8, 1 byte, 5a
        0xB8, 0x00, 0x10,                         // 1006  mov ax, 0x1000
        0x8E, 0xC0,                               // 1009  mov es, ax          ES base 0x10000: past the 64 KiB of RAM
        0x26, 0xC7, 0x06, 0x10, 0x00, 0xCD, 0xAB, // 100b  mov word [es:0x0010], 0xabcd  -> KVM_EXIT_MMIO write 0x10010, cd ab
        0xC7, 0x06, 0x00, 0x05, 0xEF, 0xBE,       // 1012  mov word [0x0500], 0xbeef     RAM: no exit, seen through GuestMemory
        0xF4,                                     // 1018  hlt                 -> KVM_EXIT_HLT
    ];                                            // 1019  (RIP after HLT)

    [Fact]
    public void Out_then_mmio_write_then_hlt_exit_in_order_with_their_data()
    {
        using var guest = new RealModeGuest(OutMmioWriteHlt);
        KvmVcpu vcpu = guest.Vcpu;

        VcpuExit exit = vcpu.Run();
        Assert.Equal(KvmExitReason.Io, exit.Reason);
        Assert.Equal(new IoExit(IsWrite: true, Port: 0x3f8, Size: 1, Count: 1), exit.Io);
        Assert.Equal([0x5A], vcpu.IoData.ToArray());

        exit = vcpu.Run();
        Assert.Equal(KvmExitReason.Mmio, exit.Reason);
        Assert.Equal(new MmioExit(IsWrite: true, Address: 0x10010, Length: 2), exit.Mmio);
        Assert.Equal([0xCD, 0xAB], vcpu.MmioData.ToArray());

        exit = vcpu.Run();
        Assert.Equal(KvmExitReason.Hlt, exit.Reason);

        KvmRegs regs = vcpu.GetRegisters();
        Assert.Equal(RealModeGuest.CodeAddress + (ulong)OutMmioWriteHlt.Length, regs.Rip); // HLT retired
        Assert.Equal(0x1000UL, regs.Rax);
        Assert.Equal(0x3f8UL, regs.Rdx);
        KvmSregs sregs = vcpu.GetSpecialRegisters();
        Assert.Equal(0x1000, sregs.Es.Selector);
        Assert.Equal(0x10000UL, sregs.Es.Base);
        // The RAM write went to the memfd pages registered as the KVM slot.
        Assert.Equal([0xEF, 0xBE], guest.Memory.GetSpan(0x500, 2).ToArray());
    }

    private static readonly byte[] InMmioReadHlt =
    [
        0xBA, 0x34, 0x12,                         // 1000  mov dx, 0x1234
        0xEC,                                     // 1003  in al, dx           -> KVM_EXIT_IO in 0x1234, 1 byte; VMM answers 77
        0x88, 0xC3,                               // 1004  mov bl, al
        0xB8, 0x00, 0x10,                         // 1006  mov ax, 0x1000
        0x8E, 0xD8,                               // 1009  mov ds, ax          DS base 0x10000: unbacked
        0x8B, 0x0E, 0x20, 0x00,                   // 100b  mov cx, [0x0020]    -> KVM_EXIT_MMIO read 0x10020, 2 bytes; VMM answers 4321
        0xF4,                                     // 100f  hlt
    ];                                            // 1010

    [Fact]
    public void The_vmm_answers_in_and_mmio_reads_through_the_exit_data()
    {
        using var guest = new RealModeGuest(InMmioReadHlt);
        KvmVcpu vcpu = guest.Vcpu;

        VcpuExit exit = vcpu.Run();
        Assert.Equal(KvmExitReason.Io, exit.Reason);
        Assert.Equal(new IoExit(IsWrite: false, Port: 0x1234, Size: 1, Count: 1), exit.Io);
        vcpu.IoData[0] = 0x77;

        exit = vcpu.Run();
        Assert.Equal(KvmExitReason.Mmio, exit.Reason);
        Assert.Equal(new MmioExit(IsWrite: false, Address: 0x10020, Length: 2), exit.Mmio);
        vcpu.MmioData[0] = 0x21;
        vcpu.MmioData[1] = 0x43;

        exit = vcpu.Run();
        Assert.Equal(KvmExitReason.Hlt, exit.Reason);
        KvmRegs regs = vcpu.GetRegisters();
        Assert.Equal(0x77UL, regs.Rbx & 0xFF);
        Assert.Equal(0x4321UL, regs.Rcx);
        Assert.Equal(RealModeGuest.CodeAddress + (ulong)InMmioReadHlt.Length, regs.Rip);
    }

    [Fact]
    public void Exit_data_is_only_offered_for_its_own_exit()
    {
        using var guest = new RealModeGuest([0xF4]); // hlt
        KvmVcpu vcpu = guest.Vcpu;
        Assert.Equal(KvmExitReason.Hlt, vcpu.Run().Reason);
        Assert.Throws<InvalidOperationException>(() => vcpu.IoData.Length);
        Assert.Throws<InvalidOperationException>(() => vcpu.MmioData.Length);
    }
}
