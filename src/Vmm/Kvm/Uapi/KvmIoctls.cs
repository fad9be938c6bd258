// KVM's ioctl request numbers, built like linux/kvm.h builds them (KVMIO = 0xAE) from the sizes
// of the structs in this folder, so a layout mistake shows up as a wrong number in the tests.
// Which fd each goes to, and what it returns: Documentation/virt/kvm/api.rst section 4, one
// subsection per ioctl, by name (4.1 KVM_GET_API_VERSION, 4.10 KVM_RUN, ...).
using System.Runtime.CompilerServices;

namespace VSwitch.Vmm.Kvm.Uapi;

public static class KvmIoctls
{
    /// <summary>KVMIO, the ioctl type byte of every KVM request.</summary>
    public const uint KvmIo = 0xAE;

    // System ioctls, on the /dev/kvm fd.
    public static readonly uint GetApiVersion = IoctlNumber.Io(KvmIo, 0x00);
    public static readonly uint CreateVm = IoctlNumber.Io(KvmIo, 0x01);
    public static readonly uint CheckExtension = IoctlNumber.Io(KvmIo, 0x03);
    public static readonly uint GetVcpuMmapSize = IoctlNumber.Io(KvmIo, 0x04);
    // The size is the header only: the entries are a flexible array member.
    public static readonly uint GetSupportedCpuid = IoctlNumber.IoReadWrite(KvmIo, 0x05, Unsafe.SizeOf<KvmCpuid2Header>());

    // VM ioctls, on a KVM_CREATE_VM fd.
    public static readonly uint CreateVcpu = IoctlNumber.Io(KvmIo, 0x41);
    public static readonly uint SetUserMemoryRegion = IoctlNumber.IoWrite(KvmIo, 0x46, Unsafe.SizeOf<KvmUserspaceMemoryRegion>());
    public static readonly uint SetTssAddr = IoctlNumber.Io(KvmIo, 0x47);
    public static readonly uint SetIdentityMapAddr = IoctlNumber.IoWrite(KvmIo, 0x48, sizeof(ulong));
    public static readonly uint CreateIrqchip = IoctlNumber.Io(KvmIo, 0x60);
    public static readonly uint CreatePit2 = IoctlNumber.IoWrite(KvmIo, 0x77, Unsafe.SizeOf<KvmPitConfig>());
    public static readonly uint IrqLine = IoctlNumber.IoWrite(KvmIo, 0x61, Unsafe.SizeOf<KvmIrqLevel>());
    public static readonly uint Irqfd = IoctlNumber.IoWrite(KvmIo, 0x76, Unsafe.SizeOf<KvmIrqfd>());
    public static readonly uint Ioeventfd = IoctlNumber.IoWrite(KvmIo, 0x79, Unsafe.SizeOf<KvmIoeventfd>());
    public static readonly uint SetGsiRouting = IoctlNumber.IoWrite(KvmIo, 0x6a, Unsafe.SizeOf<KvmIrqRoutingHeader>());

    // vCPU ioctls, on a KVM_CREATE_VCPU fd.
    public static readonly uint Run = IoctlNumber.Io(KvmIo, 0x80);
    public static readonly uint GetRegs = IoctlNumber.IoRead(KvmIo, 0x81, Unsafe.SizeOf<KvmRegs>());
    public static readonly uint SetRegs = IoctlNumber.IoWrite(KvmIo, 0x82, Unsafe.SizeOf<KvmRegs>());
    public static readonly uint GetSregs = IoctlNumber.IoRead(KvmIo, 0x83, Unsafe.SizeOf<KvmSregs>());
    public static readonly uint SetSregs = IoctlNumber.IoWrite(KvmIo, 0x84, Unsafe.SizeOf<KvmSregs>());
    public static readonly uint SetMsrs = IoctlNumber.IoWrite(KvmIo, 0x89, Unsafe.SizeOf<KvmMsrsHeader>());
    public static readonly uint SetSignalMask = IoctlNumber.IoWrite(KvmIo, 0x8b, Unsafe.SizeOf<KvmSignalMaskHeader>());
    public static readonly uint SetFpu = IoctlNumber.IoWrite(KvmIo, 0x8d, Unsafe.SizeOf<KvmFpu>());
    public static readonly uint GetLapic = IoctlNumber.IoRead(KvmIo, 0x8e, Unsafe.SizeOf<KvmLapicState>());
    public static readonly uint SetLapic = IoctlNumber.IoWrite(KvmIo, 0x8f, Unsafe.SizeOf<KvmLapicState>());
    public static readonly uint SetCpuid2 = IoctlNumber.IoWrite(KvmIo, 0x90, Unsafe.SizeOf<KvmCpuid2Header>());
    public static readonly uint GetCpuid2 = IoctlNumber.IoReadWrite(KvmIo, 0x91, Unsafe.SizeOf<KvmCpuid2Header>());
    public static readonly uint GetMpState = IoctlNumber.IoRead(KvmIo, 0x98, sizeof(uint));

    /// <summary>The only API version there has ever been (api.rst 4.1: "should be 12").</summary>
    public const int ExpectedApiVersion = 12;
}
