// struct kvm_msrs / kvm_msr_entry, arch/x86/include/uapi/asm/kvm.h (Documentation/virt/kvm/
// api.rst 4.19 KVM_SET_MSRS): an 8-byte header, then nmsrs entries of 16 bytes.
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

[StructLayout(LayoutKind.Sequential)]
public struct KvmMsrsHeader
{
    public uint Nmsrs;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmMsrEntry
{
    public uint Index;
    public uint Reserved;
    public ulong Data;
}
