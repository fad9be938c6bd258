// A one-vCPU VM in 16-bit real mode with 64 KiB of RAM at guest-physical 0, executing from
// 0000:1000. Everything from 0x10000 up is unbacked, so an access there exits as MMIO.
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;

namespace VSwitch.Tests.Kvm.Kvm;

internal sealed class RealModeGuest : IDisposable
{
    public const ulong RamSize = 0x10000;
    public const ulong CodeAddress = 0x1000;
    // Intel VMX emulates real mode with a TSS in three pages below 4 GiB, outside RAM and MMIO;
    // the address QEMU and Firecracker use. AMD SVM (the sandbox) ignores it.
    private const ulong TssAddress = 0xfffbd000;

    public RealModeGuest(ReadOnlySpan<byte> code, Action<KvmSystem, KvmVcpu>? configure = null)
    {
        System = KvmHost.Open();
        Vm = System.CreateVm();
        Vm.SetTssAddress(TssAddress);
        Memory = GuestMemory.Create(RamSize);
        Vm.AddMemory(Memory);
        Memory.Write(CodeAddress, code);
        Vcpu = Vm.CreateVcpu(0);
        configure?.Invoke(System, Vcpu);

        // After KVM_CREATE_VCPU the vCPU is at the x86 reset vector (CS F000, base FFFF0000).
        // Flatten every data segment and CS to base 0 so that CS:IP = 0000:1000 is physical 0x1000.
        KvmSregs sregs = Vcpu.GetSpecialRegisters();
        sregs.Cs.Base = 0;
        sregs.Cs.Selector = 0;
        sregs.Ds.Base = sregs.Es.Base = sregs.Ss.Base = 0;
        sregs.Ds.Selector = sregs.Es.Selector = sregs.Ss.Selector = 0;
        Vcpu.SetSpecialRegisters(sregs);
        // Bit 1 of RFLAGS is reserved and must be 1; interrupts stay off (IF = 0).
        Vcpu.SetRegisters(new KvmRegs { Rip = CodeAddress, Rflags = 0x2, Rsp = 0x8000 });
    }

    public KvmSystem System { get; }
    public KvmVm Vm { get; }
    public GuestMemory Memory { get; }
    public KvmVcpu Vcpu { get; }

    public void Dispose()
    {
        Vcpu.Dispose();
        Vm.Dispose();
        Memory.Dispose();
        System.Dispose();
    }
}
