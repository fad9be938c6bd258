// struct kvm_mp_state and KVM_MP_STATE_*, include/uapi/linux/kvm.h (Documentation/virt/kvm/
// api.rst 4.38 KVM_GET_MP_STATE): where a vCPU is in the INIT/SIPI protocol of the in-kernel LAPIC.
namespace VSwitch.Vmm.Kvm.Uapi;

public enum KvmMpState : uint
{
    Runnable = 0,
    /// <summary>An AP that has not received INIT/SIPI yet: KVM_RUN blocks until it does.</summary>
    Uninitialized = 1,
    InitReceived = 2,
    Halted = 3,
    SipiReceived = 4,
}
