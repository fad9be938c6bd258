// KVM_GET_SUPPORTED_CPUID -> KVM_SET_CPUID2 -> what the guest's CPUID instruction returns
// (Documentation/virt/kvm/api.rst, sections "KVM_GET_SUPPORTED_CPUID" and "KVM_SET_CPUID2").
using System.Text;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;
using Xunit;

namespace VSwitch.Tests.Kvm.Kvm;

public class CpuidTests
{
    private static readonly byte[] CpuidLeaf0Hlt =
    [
        0x66, 0x31, 0xC0,   // 1000  xor eax, eax   (66: 32-bit operand in 16-bit code) leaf 0
        0x66, 0x31, 0xC9,   // 1003  xor ecx, ecx
        0x0F, 0xA2,         // 1006  cpuid          -> EBX, EDX, ECX = vendor string
        0xF4,               // 1008  hlt
    ];

    [Fact]
    public void The_guest_sees_the_cpuid_the_vmm_set()
    {
        // A vendor no real CPU has, so the answer can only come from KVM_SET_CPUID2.
        byte[] vendor = Encoding.ASCII.GetBytes("VSwitch-test");
        using var guest = new RealModeGuest(CpuidLeaf0Hlt, (kvm, vcpu) =>
        {
            KvmCpuidEntry2[] entries = kvm.GetSupportedCpuid();
            int leaf0 = Array.FindIndex(entries, e => e.Function == 0);
            Assert.True(leaf0 >= 0, "KVM_GET_SUPPORTED_CPUID has no leaf 0");
            entries[leaf0].Ebx = BitConverter.ToUInt32(vendor, 0);
            entries[leaf0].Edx = BitConverter.ToUInt32(vendor, 4);
            entries[leaf0].Ecx = BitConverter.ToUInt32(vendor, 8);
            vcpu.SetCpuid(entries);
        });

        Assert.Equal(KvmExitReason.Hlt, guest.Vcpu.Run().Reason);
        KvmRegs regs = guest.Vcpu.GetRegisters();
        byte[] seen = [.. BitConverter.GetBytes((uint)regs.Rbx), .. BitConverter.GetBytes((uint)regs.Rdx),
                       .. BitConverter.GetBytes((uint)regs.Rcx)];
        Assert.Equal("VSwitch-test", Encoding.ASCII.GetString(seen));
        Assert.True((uint)regs.Rax >= 1, $"max basic leaf {regs.Rax}");
    }
}
