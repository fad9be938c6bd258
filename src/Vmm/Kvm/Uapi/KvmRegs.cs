// struct kvm_regs, arch/x86/include/uapi/asm/kvm.h (Documentation/virt/kvm/api.rst
// 4.11 KVM_GET_REGS, 4.12 KVM_SET_REGS). 18 x __u64 = 144 bytes; pinned by KvmLayoutTests.
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

[StructLayout(LayoutKind.Sequential)]
public struct KvmRegs
{
    public ulong Rax, Rbx, Rcx, Rdx;
    public ulong Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11;
    public ulong R12, R13, R14, R15;
    public ulong Rip, Rflags;
}
