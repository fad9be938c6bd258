// KVM_CAP_* of include/uapi/linux/kvm.h, the arguments of KVM_CHECK_EXTENSION
// (Documentation/virt/kvm/api.rst 4.4; section 8 describes each). The numbers are ABI.
namespace VSwitch.Vmm.Kvm.Uapi;

public enum KvmCapability
{
    Irqchip = 0,
    Hlt = 1,
    UserMemory = 3,
    SetTssAddr = 4,
    ExtCpuid = 7,
    /// <summary>Returns the recommended maximum number of vCPUs per VM.</summary>
    NrVcpus = 9,
    /// <summary>Returns the number of memory slots per VM.</summary>
    NrMemslots = 10,
    MpState = 14,
    CoalescedMmio = 15,
    SyncMmu = 16,
    UserNmi = 22,
    IrqRouting = 25,
    Irqfd = 32,
    Pit2 = 33,
    PitState2 = 35,
    Ioeventfd = 36,
    SetIdentityMapAddr = 37,
    /// <summary>Returns the maximum number of vCPUs per VM.</summary>
    MaxVcpus = 66,
    ReadonlyMem = 81,
    ImmediateExit = 136,
}
