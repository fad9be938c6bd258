// KVM's paravirtual CPUID leaves (Documentation/virt/kvm/x86/cpuid.rst): 0x4000_0000 holds the
// signature "KVMKVMKVM\0\0\0" and, in EAX, the highest KVM leaf; 0x4000_0001 EAX the feature bits
// the guest may use. The VMM passes both through from KVM_GET_SUPPORTED_CPUID unchanged
// (CpuidTopology.ForVcpu), so the guest gets exactly what this host's KVM implements, and every
// feature is served by KVM itself: the MSRs of Documentation/virt/kvm/x86/msr.rst never exit to
// the VMM.
//
// Steal time (KVM_FEATURE_STEAL_TIME, bit 5; MSR_KVM_STEAL_TIME 0x4b564d03): the guest registers a
// 64-byte area per vCPU and KVM adds to its "steal" field, on each entry after the vCPU thread was
// scheduled back in, the time that thread spent runnable but waiting for a host CPU
// (sched_info.run_delay, the second field of /proc/<pid>/task/<tid>/schedstat, which vmm exports
// as vmm_vcpu_steal_seconds_total). KVM lists the bit only on a host kernel that keeps run_delay
// (CONFIG_SCHED_INFO) and refuses the MSR elsewhere, so the VMM must not set the bit itself; it
// says so when KVM leaves it out. A Linux guest then accounts the steal in /proc/stat (its 8th
// cpu field) with CONFIG_PARAVIRT alone; CONFIG_PARAVIRT_TIME_ACCOUNTING (off in Debian's kernel)
// only also keeps stolen time out of its scheduler's task clock.
using System.Text;
using VSwitch.Vmm.Kvm.Uapi;

namespace VSwitch.Vmm.Cpu;

public static class KvmParavirtFeatures
{
    public const uint LeafSignature = 0x4000_0000;
    public const uint LeafFeatures = 0x4000_0001;

    /// <summary>"KVMKVMKVM\0\0\0" in EBX, ECX, EDX of the signature leaf.</summary>
    public const uint SignatureEbx = 0x4b4d_564b, SignatureEcx = 0x564b_4d56, SignatureEdx = 0x4d;

    /// <summary>EAX bit 5 of the features leaf: MSR_KVM_STEAL_TIME is there.</summary>
    public const uint StealTime = 1u << 5;

    /// <summary>The feature bits' names, by bit (cpuid.rst's KVM_FEATURE_* without the prefix; bit 2 is deprecated, 8 and 18-23 unassigned).</summary>
    private static readonly string?[] Names =
    [
        "clocksource", "nop_io_delay", "mmu_op", "clocksource2", "async_pf", "steal_time", "pv_eoi", "pv_unhalt",
        null, "pv_tlb_flush", "async_pf_vmexit", "pv_send_ipi", "poll_control", "pv_sched_yield", "async_pf_int",
        "msi_ext_dest_id", "hc_map_gpa_range", "migration_control", null, null, null, null, null, null,
        "clocksource_stable_bit",
    ];

    /// <summary>
    /// EAX of the features leaf in <paramref name="entries"/> (KVM_GET_SUPPORTED_CPUID or one
    /// vCPU's CPUID), or 0 when there is no KVM signature leaf reaching it: a guest looks for
    /// the features only behind the signature. A highest leaf of 0 means 0x4000_0001 (old hosts, cpuid.rst).
    /// </summary>
    public static uint Of(ReadOnlySpan<KvmCpuidEntry2> entries)
    {
        bool signed = false;
        uint features = 0;
        foreach (KvmCpuidEntry2 entry in entries)
        {
            if (entry.Function == LeafSignature)
                signed = entry.Ebx == SignatureEbx && entry.Ecx == SignatureEcx && entry.Edx == SignatureEdx
                         && (entry.Eax == 0 || entry.Eax >= LeafFeatures);
            else if (entry.Function == LeafFeatures)
                features = entry.Eax;
        }
        return signed ? features : 0;
    }

    /// <summary>The names of the bits set in <paramref name="features"/>, "bitN" for one cpuid.rst does not name; "none" for 0.</summary>
    public static string Describe(uint features)
    {
        if (features == 0)
            return "none";
        var names = new StringBuilder();
        for (int bit = 0; bit < 32; bit++)
        {
            if ((features & (1u << bit)) == 0)
                continue;
            if (names.Length > 0)
                names.Append(' ');
            names.Append(bit < Names.Length && Names[bit] is { } name ? name : $"bit{bit}");
        }
        return names.ToString();
    }
}
