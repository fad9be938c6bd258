// The ioctl numbers that VSwitch.Vmm.Kvm computes with the _IO/_IOR/_IOW/_IOWR macros, against
// the values the C preprocessor gives for linux/kvm.h (kvm-layout.c beside this file; Debian 12
// linux-libc-dev 6.1.187, x86-64), and the ABI numbers of exit reasons and capabilities.
using VSwitch.Vmm.Kvm.Uapi;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm;

public class KvmIoctlTests
{
    public static TheoryData<string, uint, uint> Requests => new()
    {
        { "KVM_GET_API_VERSION", KvmIoctls.GetApiVersion, 0x0000AE00 },
        { "KVM_CREATE_VM", KvmIoctls.CreateVm, 0x0000AE01 },
        { "KVM_CHECK_EXTENSION", KvmIoctls.CheckExtension, 0x0000AE03 },
        { "KVM_GET_VCPU_MMAP_SIZE", KvmIoctls.GetVcpuMmapSize, 0x0000AE04 },
        { "KVM_GET_SUPPORTED_CPUID", KvmIoctls.GetSupportedCpuid, 0xC008AE05 },
        { "KVM_CREATE_VCPU", KvmIoctls.CreateVcpu, 0x0000AE41 },
        { "KVM_SET_USER_MEMORY_REGION", KvmIoctls.SetUserMemoryRegion, 0x4020AE46 },
        { "KVM_SET_TSS_ADDR", KvmIoctls.SetTssAddr, 0x0000AE47 },
        { "KVM_SET_IDENTITY_MAP_ADDR", KvmIoctls.SetIdentityMapAddr, 0x4008AE48 },
        { "KVM_CREATE_IRQCHIP", KvmIoctls.CreateIrqchip, 0x0000AE60 },
        { "KVM_CREATE_PIT2", KvmIoctls.CreatePit2, 0x4040AE77 },
        { "KVM_RUN", KvmIoctls.Run, 0x0000AE80 },
        { "KVM_GET_REGS", KvmIoctls.GetRegs, 0x8090AE81 },
        { "KVM_SET_REGS", KvmIoctls.SetRegs, 0x4090AE82 },
        { "KVM_GET_SREGS", KvmIoctls.GetSregs, 0x8138AE83 },
        { "KVM_SET_SREGS", KvmIoctls.SetSregs, 0x4138AE84 },
        { "KVM_SET_SIGNAL_MASK", KvmIoctls.SetSignalMask, 0x4004AE8B },
        { "KVM_SET_CPUID2", KvmIoctls.SetCpuid2, 0x4008AE90 },
        { "KVM_GET_CPUID2", KvmIoctls.GetCpuid2, 0xC008AE91 },
        { "KVM_IRQ_LINE", KvmIoctls.IrqLine, 0x4008AE61 },
        { "KVM_IRQFD", KvmIoctls.Irqfd, 0x4020AE76 },
        { "KVM_IOEVENTFD", KvmIoctls.Ioeventfd, 0x4040AE79 },
        { "KVM_SET_GSI_ROUTING", KvmIoctls.SetGsiRouting, 0x4008AE6A },
        { "KVM_GET_LAPIC", KvmIoctls.GetLapic, 0x8400AE8E },
        { "KVM_SET_LAPIC", KvmIoctls.SetLapic, 0x4400AE8F },
        { "KVM_SET_MSRS", KvmIoctls.SetMsrs, 0x4008AE89 },
        { "KVM_SET_FPU", KvmIoctls.SetFpu, 0x41A0AE8D },
        { "KVM_GET_MP_STATE", KvmIoctls.GetMpState, 0x8004AE98 },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void Request_number_matches_linux_kvm_h(string name, uint computed, uint expected) =>
        Assert.True(computed == expected, $"{name}: computed 0x{computed:X8}, linux/kvm.h says 0x{expected:X8}");

    [Fact]
    public void Macros_encode_direction_size_type_and_number()
    {
        // asm-generic/ioctl.h: dir << 30 | size << 16 | type << 8 | nr.
        Assert.Equal(0x0000AB12u, IoctlNumber.Io(0xAB, 0x12));
        Assert.Equal(0x8004AB12u, IoctlNumber.IoRead(0xAB, 0x12, 4));
        Assert.Equal(0x4004AB12u, IoctlNumber.IoWrite(0xAB, 0x12, 4));
        Assert.Equal(0xC004AB12u, IoctlNumber.IoReadWrite(0xAB, 0x12, 4));
        Assert.Equal(0x7FFF0000u, IoctlNumber.IoWrite(0, 0, 0x3FFF));
    }

    [Theory]
    [InlineData(0x4000)]
    [InlineData(-1)]
    public void Sizes_outside_the_14_bit_field_are_refused(int size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => IoctlNumber.IoWrite(KvmIoctls.KvmIo, 0, size));

    [Fact]
    public void Exit_reasons_match_linux_kvm_h()
    {
        Assert.Equal(2u, (uint)KvmExitReason.Io);
        Assert.Equal(5u, (uint)KvmExitReason.Hlt);
        Assert.Equal(6u, (uint)KvmExitReason.Mmio);
        Assert.Equal(8u, (uint)KvmExitReason.Shutdown);
        Assert.Equal(9u, (uint)KvmExitReason.FailEntry);
        Assert.Equal(10u, (uint)KvmExitReason.Intr);
        Assert.Equal(17u, (uint)KvmExitReason.InternalError);
        Assert.Equal(24u, (uint)KvmExitReason.SystemEvent);
    }

    [Fact]
    public void Capabilities_match_linux_kvm_h()
    {
        Assert.Equal(0, (int)KvmCapability.Irqchip);
        Assert.Equal(3, (int)KvmCapability.UserMemory);
        Assert.Equal(4, (int)KvmCapability.SetTssAddr);
        Assert.Equal(10, (int)KvmCapability.NrMemslots);
        Assert.Equal(33, (int)KvmCapability.Pit2);
        Assert.Equal(37, (int)KvmCapability.SetIdentityMapAddr);
        Assert.Equal(66, (int)KvmCapability.MaxVcpus);
        Assert.Equal(81, (int)KvmCapability.ReadonlyMem);
        Assert.Equal(136, (int)KvmCapability.ImmediateExit);
    }
}
