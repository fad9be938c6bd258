// Pins the KVM structs of VSwitch.Vmm.Kvm.Uapi to the kernel's layout. Source of every number:
// kvm-layout.c beside this file, compiled against /usr/include/linux/kvm.h and
// /usr/include/x86_64-linux-gnu/asm/kvm.h (Debian 12 linux-libc-dev 6.1.187) on x86-64. These
// structs cross into the kernel by pointer: one wrong offset and KVM reads or writes the wrong
// register, silently.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm;

public class KvmLayoutTests
{
    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);

    [Fact]
    public void Struct_sizes_match_the_uapi_headers()
    {
        Assert.Equal(144, Unsafe.SizeOf<KvmRegs>());
        Assert.Equal(24, Unsafe.SizeOf<KvmSegment>());
        Assert.Equal(16, Unsafe.SizeOf<KvmDtable>());
        Assert.Equal(312, Unsafe.SizeOf<KvmSregs>());
        Assert.Equal(32, Unsafe.SizeOf<KvmUserspaceMemoryRegion>());
        Assert.Equal(64, Unsafe.SizeOf<KvmPitConfig>());
        Assert.Equal(8, Unsafe.SizeOf<KvmCpuid2Header>());
        Assert.Equal(40, Unsafe.SizeOf<KvmCpuidEntry2>());
        Assert.Equal(4, Unsafe.SizeOf<KvmSignalMaskHeader>());
        Assert.Equal(2352, Unsafe.SizeOf<KvmRun>());
        Assert.Equal(8, Unsafe.SizeOf<KvmIrqLevel>());
        Assert.Equal(1024, Unsafe.SizeOf<KvmLapicState>());
        Assert.Equal(8, Unsafe.SizeOf<KvmMsrsHeader>());
        Assert.Equal(16, Unsafe.SizeOf<KvmMsrEntry>());
        Assert.Equal(416, Unsafe.SizeOf<KvmFpu>());
        Assert.Equal(48, Unsafe.SizeOf<KvmIrqRoutingEntry>());
        Assert.Equal(16, Offset<KvmIrqRoutingEntry>(nameof(KvmIrqRoutingEntry.Irqchip)));
        Assert.Equal(64, Unsafe.SizeOf<KvmIoeventfd>());
        Assert.Equal(16, Offset<KvmIoeventfd>(nameof(KvmIoeventfd.Len)));
        Assert.Equal(20, Offset<KvmIoeventfd>(nameof(KvmIoeventfd.Fd)));
        Assert.Equal(24, Offset<KvmIoeventfd>(nameof(KvmIoeventfd.Flags)));
        Assert.Equal(32, Unsafe.SizeOf<KvmIrqfd>());
        Assert.Equal(4, Offset<KvmIrqfd>(nameof(KvmIrqfd.Gsi)));
    }

    [Fact]
    public void Kvm_fpu_offsets()
    {
        Assert.Equal(128, Offset<KvmFpu>(nameof(KvmFpu.Fcw)));
        Assert.Equal(152, Offset<KvmFpu>(nameof(KvmFpu.Xmm)));
        Assert.Equal(408, Offset<KvmFpu>(nameof(KvmFpu.Mxcsr)));
    }

    [Fact]
    public void Kvm_regs_offsets()
    {
        Assert.Equal(0, Offset<KvmRegs>(nameof(KvmRegs.Rax)));
        Assert.Equal(48, Offset<KvmRegs>(nameof(KvmRegs.Rsp)));
        Assert.Equal(64, Offset<KvmRegs>(nameof(KvmRegs.R8)));
        Assert.Equal(120, Offset<KvmRegs>(nameof(KvmRegs.R15)));
        Assert.Equal(128, Offset<KvmRegs>(nameof(KvmRegs.Rip)));
        Assert.Equal(136, Offset<KvmRegs>(nameof(KvmRegs.Rflags)));
    }

    [Fact]
    public void Kvm_segment_and_dtable_offsets()
    {
        Assert.Equal(0, Offset<KvmSegment>(nameof(KvmSegment.Base)));
        Assert.Equal(8, Offset<KvmSegment>(nameof(KvmSegment.Limit)));
        Assert.Equal(12, Offset<KvmSegment>(nameof(KvmSegment.Selector)));
        Assert.Equal(14, Offset<KvmSegment>(nameof(KvmSegment.Type)));
        Assert.Equal(15, Offset<KvmSegment>(nameof(KvmSegment.Present)));
        Assert.Equal(16, Offset<KvmSegment>(nameof(KvmSegment.Dpl)));
        Assert.Equal(17, Offset<KvmSegment>(nameof(KvmSegment.Db)));
        Assert.Equal(18, Offset<KvmSegment>(nameof(KvmSegment.S)));
        Assert.Equal(19, Offset<KvmSegment>(nameof(KvmSegment.L)));
        Assert.Equal(20, Offset<KvmSegment>(nameof(KvmSegment.G)));
        Assert.Equal(21, Offset<KvmSegment>(nameof(KvmSegment.Avl)));
        Assert.Equal(22, Offset<KvmSegment>(nameof(KvmSegment.Unusable)));
        Assert.Equal(23, Offset<KvmSegment>(nameof(KvmSegment.Padding)));
        Assert.Equal(0, Offset<KvmDtable>(nameof(KvmDtable.Base)));
        Assert.Equal(8, Offset<KvmDtable>(nameof(KvmDtable.Limit)));
    }

    [Fact]
    public void Kvm_sregs_offsets()
    {
        Assert.Equal(0, Offset<KvmSregs>(nameof(KvmSregs.Cs)));
        Assert.Equal(24, Offset<KvmSregs>(nameof(KvmSregs.Ds)));
        Assert.Equal(48, Offset<KvmSregs>(nameof(KvmSregs.Es)));
        Assert.Equal(72, Offset<KvmSregs>(nameof(KvmSregs.Fs)));
        Assert.Equal(96, Offset<KvmSregs>(nameof(KvmSregs.Gs)));
        Assert.Equal(120, Offset<KvmSregs>(nameof(KvmSregs.Ss)));
        Assert.Equal(144, Offset<KvmSregs>(nameof(KvmSregs.Tr)));
        Assert.Equal(168, Offset<KvmSregs>(nameof(KvmSregs.Ldt)));
        Assert.Equal(192, Offset<KvmSregs>(nameof(KvmSregs.Gdt)));
        Assert.Equal(208, Offset<KvmSregs>(nameof(KvmSregs.Idt)));
        Assert.Equal(224, Offset<KvmSregs>(nameof(KvmSregs.Cr0)));
        Assert.Equal(232, Offset<KvmSregs>(nameof(KvmSregs.Cr2)));
        Assert.Equal(240, Offset<KvmSregs>(nameof(KvmSregs.Cr3)));
        Assert.Equal(248, Offset<KvmSregs>(nameof(KvmSregs.Cr4)));
        Assert.Equal(256, Offset<KvmSregs>(nameof(KvmSregs.Cr8)));
        Assert.Equal(264, Offset<KvmSregs>(nameof(KvmSregs.Efer)));
        Assert.Equal(272, Offset<KvmSregs>(nameof(KvmSregs.ApicBase)));
        Assert.Equal(280, Offset<KvmSregs>(nameof(KvmSregs.InterruptBitmap)));
        Assert.Equal(32, Unsafe.SizeOf<InterruptBitmap>());
    }

    [Fact]
    public void Kvm_userspace_memory_region_offsets()
    {
        Assert.Equal(0, Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.Slot)));
        Assert.Equal(4, Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.Flags)));
        Assert.Equal(8, Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.GuestPhysAddr)));
        Assert.Equal(16, Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.MemorySize)));
        Assert.Equal(24, Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.UserspaceAddr)));
    }

    [Fact]
    public void Kvm_cpuid_offsets()
    {
        Assert.Equal(0, Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Function)));
        Assert.Equal(4, Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Index)));
        Assert.Equal(8, Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Flags)));
        Assert.Equal(12, Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Eax)));
        Assert.Equal(16, Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Ebx)));
        Assert.Equal(20, Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Ecx)));
        Assert.Equal(24, Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Edx)));
        Assert.Equal(0, Offset<KvmCpuid2Header>(nameof(KvmCpuid2Header.Nent)));
    }

    [Fact]
    public void Kvm_run_header_offsets()
    {
        Assert.Equal(0, Offset<KvmRun>(nameof(KvmRun.RequestInterruptWindow)));
        Assert.Equal(1, Offset<KvmRun>(nameof(KvmRun.ImmediateExit)));
        Assert.Equal(8, Offset<KvmRun>(nameof(KvmRun.ExitReason)));
        Assert.Equal(12, Offset<KvmRun>(nameof(KvmRun.ReadyForInterruptInjection)));
        Assert.Equal(13, Offset<KvmRun>(nameof(KvmRun.IfFlag)));
        Assert.Equal(14, Offset<KvmRun>(nameof(KvmRun.Flags)));
        Assert.Equal(16, Offset<KvmRun>(nameof(KvmRun.Cr8)));
        Assert.Equal(24, Offset<KvmRun>(nameof(KvmRun.ApicBase)));
        Assert.Equal(288, Offset<KvmRun>(nameof(KvmRun.KvmValidRegs)));
        Assert.Equal(296, Offset<KvmRun>(nameof(KvmRun.KvmDirtyRegs)));
    }

    [Fact]
    public void Kvm_run_exit_union_members_start_at_32()
    {
        Assert.Equal(32, KvmRun.ExitUnionOffset);
        Assert.Equal(32, Offset<KvmRun>(nameof(KvmRun.Hw)));
        Assert.Equal(32, Offset<KvmRun>(nameof(KvmRun.FailEntry)));
        Assert.Equal(32, Offset<KvmRun>(nameof(KvmRun.Io)));
        Assert.Equal(32, Offset<KvmRun>(nameof(KvmRun.Mmio)));
        Assert.Equal(32, Offset<KvmRun>(nameof(KvmRun.Internal)));
        Assert.Equal(32, Offset<KvmRun>(nameof(KvmRun.SystemEvent)));
        // Every member fits the union's char padding[256].
        Assert.All(new[] { Unsafe.SizeOf<KvmRunHw>(), Unsafe.SizeOf<KvmRunFailEntry>(), Unsafe.SizeOf<KvmRunIo>(),
            Unsafe.SizeOf<KvmRunMmio>(), Unsafe.SizeOf<KvmRunInternal>(), Unsafe.SizeOf<KvmRunSystemEvent>() },
            size => Assert.InRange(size, 1, KvmRun.ExitUnionSize));
    }

    [Fact]
    public void Kvm_run_io_and_mmio_offsets()
    {
        int io = KvmRun.ExitUnionOffset;
        Assert.Equal(32, io + Offset<KvmRunIo>(nameof(KvmRunIo.Direction)));
        Assert.Equal(33, io + Offset<KvmRunIo>(nameof(KvmRunIo.Size)));
        Assert.Equal(34, io + Offset<KvmRunIo>(nameof(KvmRunIo.Port)));
        Assert.Equal(36, io + Offset<KvmRunIo>(nameof(KvmRunIo.Count)));
        Assert.Equal(40, io + Offset<KvmRunIo>(nameof(KvmRunIo.DataOffset)));
        Assert.Equal(32, io + Offset<KvmRunMmio>(nameof(KvmRunMmio.PhysAddr)));
        Assert.Equal(40, io + Offset<KvmRunMmio>(nameof(KvmRunMmio.Data)));
        Assert.Equal(40, KvmVcpu.MmioDataOffset);
        Assert.Equal(48, io + Offset<KvmRunMmio>(nameof(KvmRunMmio.Len)));
        Assert.Equal(52, io + Offset<KvmRunMmio>(nameof(KvmRunMmio.IsWrite)));
    }

    [Fact]
    public void Kvm_run_error_exit_offsets()
    {
        int union = KvmRun.ExitUnionOffset;
        Assert.Equal(32, union + Offset<KvmRunFailEntry>(nameof(KvmRunFailEntry.HardwareEntryFailureReason)));
        Assert.Equal(40, union + Offset<KvmRunFailEntry>(nameof(KvmRunFailEntry.Cpu)));
        Assert.Equal(32, union + Offset<KvmRunInternal>(nameof(KvmRunInternal.Suberror)));
        Assert.Equal(36, union + Offset<KvmRunInternal>(nameof(KvmRunInternal.Ndata)));
        Assert.Equal(40, union + Offset<KvmRunInternal>(nameof(KvmRunInternal.Data)));
        Assert.Equal(32, union + Offset<KvmRunSystemEvent>(nameof(KvmRunSystemEvent.Type)));
        Assert.Equal(36, union + Offset<KvmRunSystemEvent>(nameof(KvmRunSystemEvent.Ndata)));
    }
}
