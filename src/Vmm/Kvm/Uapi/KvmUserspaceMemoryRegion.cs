// struct kvm_userspace_memory_region and the KVM_MEM_* flags, include/uapi/linux/kvm.h
// (Documentation/virt/kvm/api.rst, section "KVM_SET_USER_MEMORY_REGION"). 32 bytes; pinned by
// KvmLayoutTests.
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

[StructLayout(LayoutKind.Sequential)]
public struct KvmUserspaceMemoryRegion
{
    public uint Slot;
    public uint Flags;
    public ulong GuestPhysAddr;
    /// <summary>Bytes; 0 deletes the slot.</summary>
    public ulong MemorySize;
    /// <summary>Start of the host mapping that backs the slot.</summary>
    public ulong UserspaceAddr;
}

[Flags]
public enum KvmMemoryFlags : uint
{
    None = 0,
    LogDirtyPages = 1u << 0,
    /// <summary>Guest writes exit to user space as KVM_EXIT_MMIO (needs KVM_CAP_READONLY_MEM).</summary>
    ReadOnly = 1u << 1,
}
