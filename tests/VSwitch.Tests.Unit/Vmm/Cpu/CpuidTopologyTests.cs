// Per-vCPU CPUID from a synthetic KVM_GET_SUPPORTED_CPUID list shaped like the sandbox's AMD
// EPYC-like "-cpu max" (with Intel's leaf 4 as well, so both vendors' topology leaves are
// covered): every topology field, for each vCPU, and that the rest passes through.
using VSwitch.Vmm.Cpu;
using VSwitch.Vmm.Kvm.Uapi;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Cpu;

public sealed class CpuidTopologyTests
{
    private static KvmCpuidEntry2 Leaf(uint function, uint index, uint eax, uint ebx, uint ecx, uint edx, bool indexed = false) => new()
    {
        Function = function,
        Index = index,
        Flags = indexed ? KvmCpuidEntry2.FlagSignificantIndex : 0,
        Eax = eax,
        Ebx = ebx,
        Ecx = ecx,
        Edx = edx,
    };

    // Host-like values: leaf 1 EBX has a host APIC ID (0x07) and count (0x10) to be replaced, and
    // CLFLUSH size 8 (bits 15-8) to be kept.
    private static readonly KvmCpuidEntry2[] Supported =
    [
        Leaf(0x0, 0, 0x1f, 0x6874_7541, 0x444d_4163, 0x6974_6e65),
        Leaf(0x1, 0, 0x00a0_0f11, 0x0710_0800, 0x7ef8_3203, 0x178b_fbff),
        Leaf(0x4, 0, 0x1c00_4121, 0x01c0_003f, 0x3f, 0, indexed: true),  // L1d, 8 cores, 2 threads sharing
        Leaf(0x4, 1, 0x1c00_4143, 0x01c0_003f, 0x3ff, 0, indexed: true), // L2
        Leaf(0x4, 2, 0x1c03_c163, 0x03c0_003f, 0x3fff, 6, indexed: true), // L3, 16 sharing
        Leaf(0x4, 3, 0, 0, 0, 0, indexed: true),                          // end of list
        Leaf(0x7, 0, 0, 0xf1bf_07ab, 0x0040_5fce, 0x1000_0000, indexed: true),
        Leaf(0xb, 0, 1, 2, 0x100, 0x0e, indexed: true),
        Leaf(0xb, 1, 4, 16, 0x201, 0x0e, indexed: true),
        Leaf(0x1f, 0, 1, 2, 0x100, 0x0e, indexed: true),
        Leaf(0x4000_0000, 0, 0x4000_0001, 0x4b4d_564b, 0x564b_4d56, 0x4d),
        Leaf(0x8000_0000, 0, 0x8000_0021, 0x6874_7541, 0x444d_4163, 0x6974_6e65),
        Leaf(0x8000_0001, 0, 0x00a0_0f11, 0, 0x7584_0001 & ~2u, 0x2fd3_fbff),
        Leaf(0x8000_0008, 0, 0x0000_3030, 0x0100_d000, 0x0001_7007, 0), // PerfTscSize (17:16) = 1 must survive
        Leaf(0x8000_001d, 0, 0x0000_4121, 0x01c0_003f, 0x3f, 0, indexed: true),
        Leaf(0x8000_001d, 1, 0x0000_4143, 0x01c0_003f, 0x3ff, 0x2, indexed: true),
        Leaf(0x8000_001d, 2, 0x0003_c163, 0x03c0_003f, 0x7fff, 0x1, indexed: true),
        Leaf(0x8000_001d, 3, 0, 0, 0, 0, indexed: true),
        Leaf(0x8000_001e, 0, 0x0e, 0x0107, 0x0103, 0),
        Leaf(0x4000_0001, 0, 0x0100_7efb, 0, 0, 0), // the sandbox's KVM paravirtual features, steal time (bit 5) among them
    ];

    private static KvmCpuidEntry2 Find(KvmCpuidEntry2[] entries, uint function, uint index = 0) =>
        Assert.Single(entries, e => e.Function == function && e.Index == index);

    [Theory]
    [InlineData(0, 1)]
    [InlineData(0, 4)]
    [InlineData(3, 4)]
    [InlineData(5, 6)]
    public void Leaf_1_carries_the_apic_id_count_htt_and_hypervisor_bits(int index, int count)
    {
        KvmCpuidEntry2 leaf1 = Find(CpuidTopology.ForVcpu(Supported, index, count), 0x1);
        Assert.Equal((uint)index, leaf1.Ebx >> 24);
        uint addressable = (leaf1.Ebx >> 16) & 0xff;
        Assert.True(addressable >= count && (addressable & (addressable - 1)) == 0, $"EBX[23:16] = {addressable}");
        Assert.Equal(0x0800u, leaf1.Ebx & 0xffff);
        Assert.Equal(count > 1, (leaf1.Edx & (1u << 28)) != 0);
        Assert.NotEqual(0u, leaf1.Ecx & (1u << 31));
        Assert.Equal(Supported[1].Eax, leaf1.Eax);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Leaf_4_counts_the_vm_s_cores_and_who_shares_each_cache(int count)
    {
        KvmCpuidEntry2[] entries = CpuidTopology.ForVcpu(Supported, 0, count);
        for (uint subleaf = 0; subleaf < 3; subleaf++)
        {
            KvmCpuidEntry2 cache = Find(entries, 0x4, subleaf);
            Assert.Equal((uint)count - 1, cache.Eax >> 26);
            uint level = (cache.Eax >> 5) & 7;
            Assert.Equal(level == 3 ? (uint)count - 1 : 0, (cache.Eax >> 14) & 0xfff);
            Assert.Equal(Supported[2 + subleaf].Eax & 0x3fff, cache.Eax & 0x3fff);
            Assert.Equal(Supported[2 + subleaf].Ebx, cache.Ebx);
        }
        Assert.Equal(0u, Find(entries, 0x4, 3).Eax); // the terminator stays all-zero
    }

    [Theory]
    [InlineData(0, 1, 0)]
    [InlineData(2, 4, 2)]
    [InlineData(4, 5, 3)]
    public void Leaves_b_and_1f_describe_one_thread_per_core_and_count_cores(int index, int count, int coreBits)
    {
        KvmCpuidEntry2[] entries = CpuidTopology.ForVcpu(Supported, index, count);
        foreach (uint leaf in new uint[] { 0xb, 0x1f })
        {
            Assert.Equal(3, entries.Count(e => e.Function == leaf));
            KvmCpuidEntry2 smt = Find(entries, leaf, 0), core = Find(entries, leaf, 1), end = Find(entries, leaf, 2);
            Assert.All(new[] { smt, core, end }, e =>
            {
                Assert.Equal((uint)index, e.Edx);
                Assert.Equal(KvmCpuidEntry2.FlagSignificantIndex, e.Flags);
            });
            Assert.Equal((0u, 1u, 0x100u), (smt.Eax, smt.Ebx, smt.Ecx));
            Assert.Equal(((uint)coreBits, (uint)count, 0x201u), (core.Eax, core.Ebx, core.Ecx));
            Assert.Equal((0u, 0u, 0x002u), (end.Eax, end.Ebx, end.Ecx));
        }
    }

    [Fact]
    public void Leaf_b_is_not_invented_when_kvm_does_not_report_it()
    {
        KvmCpuidEntry2[] without = [.. Supported.Where(e => e.Function is not (0xb or 0x1f))];
        Assert.DoesNotContain(CpuidTopology.ForVcpu(without, 1, 2), e => e.Function is 0xb or 0x1f);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    [InlineData(3, 4)]
    public void Amd_leaves_count_cores_and_give_each_its_id(int index, int count)
    {
        KvmCpuidEntry2[] entries = CpuidTopology.ForVcpu(Supported, index, count);
        Assert.Equal(count > 1, (Find(entries, 0x8000_0001).Ecx & 2) != 0); // CmpLegacy
        Assert.Equal(Supported[12].Ecx & ~2u, Find(entries, 0x8000_0001).Ecx & ~2u);

        KvmCpuidEntry2 sizes = Find(entries, 0x8000_0008);
        Assert.Equal((uint)count - 1, sizes.Ecx & 0xff);                          // NC
        Assert.Equal((uint)CpuidTopology.BitsFor((uint)count), (sizes.Ecx >> 12) & 0xf); // ApicIdCoreIdSize
        Assert.Equal(Supported[13].Eax, sizes.Eax);
        Assert.Equal(Supported[13].Ecx & ~0xf0ffu, sizes.Ecx & ~0xf0ffu); // the other fields are kept

        KvmCpuidEntry2 extApic = Find(entries, 0x8000_001e);
        Assert.Equal((uint)index, extApic.Eax);
        Assert.Equal((uint)index, extApic.Ebx & 0xff);
        Assert.Equal(0u, (extApic.Ebx >> 8) & 0xff); // one thread per core
        Assert.Equal(0u, extApic.Ecx & 0x7ff);       // node 0, one node

        Assert.Equal(0u, (Find(entries, 0x8000_001d, 0).Eax >> 14) & 0xfff);
        Assert.Equal((uint)count - 1, (Find(entries, 0x8000_001d, 2).Eax >> 14) & 0xfff);
        Assert.Equal(0u, Find(entries, 0x8000_001d, 3).Eax);
    }

    [Fact]
    public void Other_leaves_pass_through_unchanged()
    {
        KvmCpuidEntry2[] entries = CpuidTopology.ForVcpu(Supported, 1, 2);
        foreach (uint function in new uint[] { 0x0, 0x7, 0x4000_0000, 0x4000_0001, 0x8000_0000 })
            Assert.Equal(Supported.Single(e => e.Function == function), Find(entries, function));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Every_vcpu_gets_kvm_s_paravirtual_features_steal_time_among_them(int count)
    {
        for (int index = 0; index < count; index++)
        {
            uint features = KvmParavirtFeatures.Of(CpuidTopology.ForVcpu(Supported, index, count));
            Assert.Equal(0x0100_7efbu, features);
            Assert.NotEqual(0u, features & KvmParavirtFeatures.StealTime);
        }
    }

    [Fact]
    public void Vcpus_differ_only_in_their_ids()
    {
        KvmCpuidEntry2[] first = CpuidTopology.ForVcpu(Supported, 0, 4), last = CpuidTopology.ForVcpu(Supported, 3, 4);
        Assert.Equal(first.Length, last.Length);
        var differing = first.Zip(last).Where(p => !p.First.Equals(p.Second)).Select(p => p.First.Function).Distinct().Order();
        Assert.Equal([0x1u, 0xbu, 0x1fu, 0x8000_001eu], differing);
    }

    [Fact]
    public void Input_is_not_modified()
    {
        KvmCpuidEntry2[] copy = [.. Supported];
        CpuidTopology.ForVcpu(copy, 2, 3);
        Assert.Equal(Supported, copy);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(4, 4)]
    [InlineData(-1, 2)]
    [InlineData(0, 255)]
    public void Bad_index_or_count_is_refused(int index, int count) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuidTopology.ForVcpu(Supported, index, count));
}
