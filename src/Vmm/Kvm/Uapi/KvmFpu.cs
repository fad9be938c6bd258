// struct kvm_fpu, arch/x86/include/uapi/asm/kvm.h (Documentation/virt/kvm/api.rst 4.22
// KVM_SET_FPU): the legacy x87/SSE state. 416 bytes; fcw at 128, mxcsr at 408 (pinned by
// KvmLayoutTests).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

[StructLayout(LayoutKind.Sequential)]
public struct KvmFpu
{
    public FpuRegisters Fpr;          // 8 x 16 bytes
    public ushort Fcw;
    public ushort Fsw;
    public byte Ftwx;
    public byte Padding1;
    public ushort LastOpcode;
    public ulong LastIp;
    public ulong LastDp;
    public XmmRegisters Xmm;          // 16 x 16 bytes
    public uint Mxcsr;
    public uint Padding2;
}

[InlineArray(128)]
public struct FpuRegisters
{
    private byte _element0;
}

[InlineArray(256)]
public struct XmmRegisters
{
    private byte _element0;
}
