// struct kvm_cpuid2 / kvm_cpuid_entry2, arch/x86/include/uapi/asm/kvm.h; Documentation/virt/kvm/
// api.rst, sections "KVM_GET_SUPPORTED_CPUID" and "KVM_SET_CPUID2". The header is 8 bytes, each
// entry 40; pinned by KvmLayoutTests.
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

/// <summary>The fixed part of struct kvm_cpuid2; <c>nent</c> entries follow it directly.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmCpuid2Header
{
    public uint Nent;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmCpuidEntry2
{
    public uint Function;
    public uint Index;
    public uint Flags;
    public uint Eax, Ebx, Ecx, Edx;
    public uint Padding0, Padding1, Padding2;

    /// <summary>KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic): <see cref="Index"/> selects a sub-leaf.</summary>
    public const uint FlagSignificantIndex = 1 << 0;
}
