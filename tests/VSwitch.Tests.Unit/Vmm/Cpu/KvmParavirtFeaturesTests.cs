// KVM's paravirtual leaves as a guest finds them (Documentation/virt/kvm/x86/cpuid.rst): the
// features count only behind the "KVMKVMKVM" signature, and their names are cpuid.rst's.
using VSwitch.Vmm.Cpu;
using VSwitch.Vmm.Kvm.Uapi;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Cpu;

public sealed class KvmParavirtFeaturesTests
{
    // What the KVM sandbox's kvm-amd (Debian 6.1) lists in KVM_GET_SUPPORTED_CPUID.
    private const uint SandboxFeatures = 0x0100_7efb;

    private static KvmCpuidEntry2 Signature(uint highestLeaf = KvmParavirtFeatures.LeafFeatures, uint ebx = KvmParavirtFeatures.SignatureEbx) => new()
    {
        Function = KvmParavirtFeatures.LeafSignature,
        Eax = highestLeaf,
        Ebx = ebx,
        Ecx = KvmParavirtFeatures.SignatureEcx,
        Edx = KvmParavirtFeatures.SignatureEdx,
    };

    private static readonly KvmCpuidEntry2 Features = new() { Function = KvmParavirtFeatures.LeafFeatures, Eax = SandboxFeatures };

    [Fact]
    public void The_features_behind_the_kvm_signature_are_read()
    {
        Assert.Equal(SandboxFeatures, KvmParavirtFeatures.Of([Signature(), Features]));
        // Old hosts put 0 for the highest leaf, meaning 0x4000_0001.
        Assert.Equal(SandboxFeatures, KvmParavirtFeatures.Of([Signature(highestLeaf: 0), Features]));
    }

    [Fact]
    public void Without_a_kvm_signature_reaching_them_there_are_no_features()
    {
        Assert.Equal(0u, KvmParavirtFeatures.Of([Features]));
        Assert.Equal(0u, KvmParavirtFeatures.Of([Signature(ebx: 0x7263_694d), Features])); // "Micr...": Hyper-V's
        Assert.Equal(0u, KvmParavirtFeatures.Of([Signature(highestLeaf: KvmParavirtFeatures.LeafSignature), Features]));
        Assert.Equal(0u, KvmParavirtFeatures.Of([Signature()]));
        Assert.Equal(0u, KvmParavirtFeatures.Of([]));
    }

    [Fact]
    public void Features_are_named_as_cpuid_rst_names_them()
    {
        Assert.Equal("clocksource nop_io_delay clocksource2 async_pf steal_time pv_eoi pv_unhalt pv_tlb_flush async_pf_vmexit " +
                     "pv_send_ipi poll_control pv_sched_yield async_pf_int clocksource_stable_bit", KvmParavirtFeatures.Describe(SandboxFeatures));
        Assert.Equal("steal_time", KvmParavirtFeatures.Describe(KvmParavirtFeatures.StealTime));
        Assert.Equal("bit8 bit31", KvmParavirtFeatures.Describe((1u << 8) | (1u << 31)));
        Assert.Equal("none", KvmParavirtFeatures.Describe(0));
    }
}
