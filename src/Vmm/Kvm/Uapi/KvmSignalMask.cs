// struct kvm_signal_mask, include/uapi/linux/kvm.h (Documentation/virt/kvm/api.rst, section
// "KVM_SET_SIGNAL_MASK"): a 4-byte length, then the kernel's sigset_t (8 bytes on x86-64, not
// glibc's 128-byte one).
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

[StructLayout(LayoutKind.Sequential)]
public struct KvmSignalMaskHeader
{
    public uint Length;

    /// <summary>sizeof the kernel's sigset_t on x86-64 (_NSIG 64 bits); KVM refuses any other length.</summary>
    public const int KernelSigsetBytes = 8;
}
