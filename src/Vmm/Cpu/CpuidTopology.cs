// Per-vCPU CPUID: KVM_GET_SUPPORTED_CPUID describes what the host can give, not one CPU of a
// VM, so the topology leaves are rewritten for each vCPU (Intel SDM vol. 2A "CPUID"; AMD APM
// vol. 3 appendix E.3 and E.4; Firecracker's cpu_config/x86_64/cpuid normalize code rewrites the
// same fields). The VM is one package of vcpuCount cores with one thread each; vCPU i has APIC ID
// i, as in the MADT. Leaves KVM reports without a topology meaning (features, and KVM's own
// paravirtual leaves: KvmParavirtFeatures.cs) are passed through unchanged.
using VSwitch.Vmm.Kvm.Uapi;

namespace VSwitch.Vmm.Cpu;

public static class CpuidTopology
{
    public const uint LeafFeatures = 0x1;
    public const uint LeafCacheParameters = 0x4;
    public const uint LeafExtendedTopology = 0xb;
    public const uint LeafExtendedTopologyV2 = 0x1f;
    public const uint LeafExtendedFeatures = 0x8000_0001;
    public const uint LeafAddressSizes = 0x8000_0008;
    public const uint LeafAmdCacheTopology = 0x8000_001d;
    public const uint LeafAmdExtendedApicId = 0x8000_001e;

    /// <summary>Leaf 1 EDX bit 28: EBX[23:16] is valid (more than one logical processor per package).</summary>
    public const uint Leaf1EdxHtt = 1u << 28;

    /// <summary>Leaf 1 ECX bit 31: running under a hypervisor.</summary>
    public const uint Leaf1EcxHypervisor = 1u << 31;

    /// <summary>0x8000_0001 ECX bit 1 CmpLegacy: the logical processors of leaf 1 are cores, not threads.</summary>
    public const uint ExtEcxCmpLegacy = 1u << 1;

    /// <summary>0x8000_0001 ECX bit 22 TopologyExtensions: leaves 0x8000_001D/0x8000_001E are valid.</summary>
    public const uint ExtEcxTopologyExtensions = 1u << 22;

    /// <summary>Leaf 0xB/0x1F level types (ECX[15:8]).</summary>
    public const uint LevelInvalid = 0, LevelSmt = 1, LevelCore = 2;

    /// <summary>Most vCPUs: leaf 1 EBX and 0x8000_0008 ECX NC have 8 bits; APIC IDs are 8-bit (xAPIC).</summary>
    public const int MaxVcpus = 254;

    /// <summary>
    /// The entries for vCPU <paramref name="vcpuIndex"/> of <paramref name="vcpuCount"/>, for
    /// KVM_SET_CPUID2, from <paramref name="supported"/> (KVM_GET_SUPPORTED_CPUID; not modified).
    /// </summary>
    public static KvmCpuidEntry2[] ForVcpu(ReadOnlySpan<KvmCpuidEntry2> supported, int vcpuIndex, int vcpuCount)
    {
        if (vcpuCount is < 1 or > MaxVcpus)
            throw new ArgumentOutOfRangeException(nameof(vcpuCount), vcpuCount, $"vcpu count must be 1-{MaxVcpus}");
        if (vcpuIndex < 0 || vcpuIndex >= vcpuCount)
            throw new ArgumentOutOfRangeException(nameof(vcpuIndex), vcpuIndex, $"vcpu index must be 0-{vcpuCount - 1}");

        uint apicId = (uint)vcpuIndex;
        uint count = (uint)vcpuCount;
        int coreIdBits = BitsFor(count);
        var entries = new List<KvmCpuidEntry2>(supported.Length + 4);
        bool hasLeafB = false, hasLeaf1F = false;
        foreach (KvmCpuidEntry2 original in supported)
        {
            KvmCpuidEntry2 entry = original;
            switch (entry.Function)
            {
                case LeafFeatures:
                    // EBX[31:24] initial APIC ID, EBX[23:16] addressable logical processor IDs.
                    entry.Ebx = (entry.Ebx & 0x0000_ffff) | (apicId << 24) | (Math.Min(1u << coreIdBits, 0xff) << 16);
                    entry.Ecx |= Leaf1EcxHypervisor;
                    entry.Edx = count > 1 ? entry.Edx | Leaf1EdxHtt : entry.Edx & ~Leaf1EdxHtt;
                    break;
                case LeafCacheParameters when CacheType(entry.Eax) != 0:
                    // EAX[31:26] cores per package - 1, EAX[25:14] logical processors sharing the cache - 1.
                    entry.Eax = (entry.Eax & 0x3fff) | ((count - 1) << 26) | (SharingCache(entry.Eax, count) << 14);
                    break;
                case LeafExtendedTopology:
                    hasLeafB = true;
                    continue; // rebuilt below
                case LeafExtendedTopologyV2:
                    hasLeaf1F = true;
                    continue;
                case LeafExtendedFeatures:
                    entry.Ecx = count > 1 ? entry.Ecx | ExtEcxCmpLegacy : entry.Ecx & ~ExtEcxCmpLegacy;
                    break;
                case LeafAddressSizes:
                    // ECX[7:0] NC = cores - 1, ECX[15:12] ApicIdCoreIdSize = bits of the APIC ID that number the core.
                    entry.Ecx = (entry.Ecx & ~0xf0ffu) | ((uint)coreIdBits << 12) | (count - 1);
                    break;
                case LeafAmdCacheTopology when CacheType(entry.Eax) != 0:
                    // EAX[25:14] NumSharingCache - 1; same encoding as Intel leaf 4.
                    entry.Eax = (entry.Eax & ~(0xfffu << 14)) | (SharingCache(entry.Eax, count) << 14);
                    break;
                case LeafAmdExtendedApicId:
                    entry = AmdExtendedApicId(entry, apicId);
                    break;
            }
            entries.Add(entry);
        }
        if (hasLeafB)
            entries.AddRange(ExtendedTopology(LeafExtendedTopology, apicId, count, coreIdBits));
        if (hasLeaf1F)
            entries.AddRange(ExtendedTopology(LeafExtendedTopologyV2, apicId, count, coreIdBits));
        return [.. entries];
    }

    /// <summary>
    /// Leaf 0xB or 0x1F: subleaf 0 the thread level (one thread per core), subleaf 1 the core level
    /// (all vCPUs), subleaf 2 the terminating invalid level. EDX is the x2APIC ID in each.
    /// </summary>
    private static KvmCpuidEntry2[] ExtendedTopology(uint leaf, uint apicId, uint count, int coreIdBits) =>
    [
        Subleaf(leaf, 0, eax: 0, ebx: 1, ecx: LevelSmt << 8, apicId),
        Subleaf(leaf, 1, eax: (uint)coreIdBits, ebx: count, ecx: (LevelCore << 8) | 1, apicId),
        Subleaf(leaf, 2, eax: 0, ebx: 0, ecx: (LevelInvalid << 8) | 2, apicId),
    ];

    private static KvmCpuidEntry2 Subleaf(uint leaf, uint index, uint eax, uint ebx, uint ecx, uint edx) => new()
    {
        Function = leaf,
        Index = index,
        Flags = KvmCpuidEntry2.FlagSignificantIndex,
        Eax = eax,
        Ebx = ebx,
        Ecx = ecx,
        Edx = edx,
    };

    /// <summary>
    /// 0x8000_001E: EAX extended APIC ID; EBX[7:0] core (compute unit) ID, EBX[15:8] threads per
    /// core - 1 = 0; ECX[7:0] node ID 0, ECX[10:8] nodes per package - 1 = 0.
    /// </summary>
    private static KvmCpuidEntry2 AmdExtendedApicId(KvmCpuidEntry2 entry, uint apicId)
    {
        entry.Eax = apicId;
        entry.Ebx = (entry.Ebx & ~0xffffu) | (apicId & 0xff);
        entry.Ecx &= ~0x7ffu;
        entry.Edx = 0;
        return entry;
    }

    /// <summary>
    /// Logical processors sharing a cache, minus 1, from the cache level in EAX[7:5]: L1 and L2
    /// are private to a core (one thread), L3 and beyond are shared by the whole package.
    /// </summary>
    private static uint SharingCache(uint eax, uint count)
    {
        uint level = (eax >> 5) & 0x7;
        return level >= 3 ? count - 1 : 0;
    }

    /// <summary>EAX[4:0] of leaf 4 and 0x8000_001D: 0 ends the list of caches, whose fields are then all reserved.</summary>
    private static uint CacheType(uint eax) => eax & 0x1f;

    /// <summary>Bits needed to number <paramref name="count"/> items: ceil(log2(count)), 0 for 1.</summary>
    internal static int BitsFor(uint count) => count <= 1 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount(count - 1);
}
