// Per-vCPU CPUID: KVM_GET_SUPPORTED_CPUID describes what the host can give, not one CPU of a
// VM, so the topology leaves are rewritten for each vCPU (Intel SDM vol. 2A "CPUID"; AMD APM vol.
// 3 appendix E; Firecracker's cpu_config/x86_64/cpuid normalize code does the same). The VM is
// one package of vcpuCount single-thread cores; vCPU i has APIC ID i (as in the MADT).
using VSwitch.Vmm.Kvm.Uapi;

namespace VSwitch.Vmm.Cpu;

public static class CpuidTopology
{
    /// <summary>
    /// The entries for vCPU <paramref name="vcpuIndex"/> of <paramref name="vcpuCount"/>, for
    /// KVM_SET_CPUID2, from <paramref name="supported"/> (KVM_GET_SUPPORTED_CPUID; not modified).
    /// </summary>
    public static KvmCpuidEntry2[] ForVcpu(ReadOnlySpan<KvmCpuidEntry2> supported, int vcpuIndex, int vcpuCount) =>
        throw new NotImplementedException();
}
