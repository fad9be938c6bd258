// A VM fd from KVM_CREATE_VM (Documentation/virt/kvm/api.rst 4.2): memory slots, the x86
// real-mode helpers (KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR), the in-kernel interrupt
// controllers (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2) and vCPUs (4.7 KVM_CREATE_VCPU).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VSwitch.Vmm.Kvm.Interop;
using VSwitch.Vmm.Kvm.Uapi;
using static VSwitch.Vmm.Kvm.Interop.Interop;

namespace VSwitch.Vmm.Kvm;

public sealed class KvmVm : IDisposable
{
    private readonly FileDescriptorHandle _fd;
    private readonly int _vcpuMmapSize;
    private uint _nextSlot;

    internal KvmVm(FileDescriptorHandle fd, int vcpuMmapSize)
    {
        _fd = fd;
        _vcpuMmapSize = vcpuMmapSize;
    }

    /// <summary>
    /// Makes every region of <paramref name="memory"/> guest RAM, one KVM slot each (numbered from
    /// 0 in the order added); returns the first slot used. The VM reads and writes the memfd's pages
    /// directly, so <paramref name="memory"/> must stay undisposed while the VM runs.
    /// </summary>
    public uint AddMemory(GuestMemory memory, KvmMemoryFlags flags = KvmMemoryFlags.None)
    {
        uint first = _nextSlot;
        foreach (GuestMemoryRegion region in memory.Regions)
        {
            var slot = new KvmUserspaceMemoryRegion
            {
                Slot = _nextSlot,
                Flags = (uint)flags,
                GuestPhysAddr = region.GuestAddress,
                MemorySize = region.Size,
                UserspaceAddr = memory.HostAddress(region),
            };
            KvmThrow.Check(Ioctl(_fd, KvmIoctls.SetUserMemoryRegion, ref slot), "KVM_SET_USER_MEMORY_REGION");
            _nextSlot++;
        }
        return first;
    }

    /// <summary>
    /// KVM_SET_TSS_ADDR: three pages of guest-physical space, outside RAM and MMIO, that Intel VMX
    /// needs to emulate real mode (AMD SVM ignores it). QEMU and Firecracker use 0xfffbd000.
    /// </summary>
    public void SetTssAddress(ulong guestAddress) =>
        KvmThrow.Check(Ioctl(_fd, KvmIoctls.SetTssAddr, guestAddress), "KVM_SET_TSS_ADDR");

    /// <summary>KVM_SET_IDENTITY_MAP_ADDR: one page for VMX's real-mode identity page table; call before creating vCPUs.</summary>
    public void SetIdentityMapAddress(ulong guestAddress) =>
        KvmThrow.Check(Ioctl(_fd, KvmIoctls.SetIdentityMapAddr, ref guestAddress), "KVM_SET_IDENTITY_MAP_ADDR");

    /// <summary>
    /// KVM_CREATE_IRQCHIP: in-kernel PIC, IOAPIC and a local APIC per vCPU; call before creating
    /// vCPUs. With it HLT no longer exits to user space (the LAPIC waits for an interrupt).
    /// </summary>
    public void CreateIrqchip() => KvmThrow.Check(Ioctl(_fd, KvmIoctls.CreateIrqchip, 0), "KVM_CREATE_IRQCHIP");

    /// <summary>KVM_CREATE_PIT2: in-kernel i8254 timer; needs the irqchip first.</summary>
    public void CreatePit2(uint flags = KvmPitConfig.SpeakerDummy)
    {
        var config = new KvmPitConfig { Flags = flags };
        KvmThrow.Check(Ioctl(_fd, KvmIoctls.CreatePit2, ref config), "KVM_CREATE_PIT2");
    }

    /// <summary>
    /// KVM_IRQ_LINE: sets GSI <paramref name="gsi"/> of the in-kernel PIC and IOAPIC to
    /// <paramref name="level"/>. Callable from any thread (device emulation on vCPU threads).
    /// </summary>
    public void SetIrqLine(uint gsi, bool level)
    {
        var irq = new KvmIrqLevel { Irq = gsi, Level = level ? 1u : 0u };
        KvmThrow.Check(Ioctl(_fd, KvmIoctls.IrqLine, ref irq), "KVM_IRQ_LINE");
    }

    /// <summary>
    /// KVM_IOEVENTFD: a guest's <paramref name="width"/>-byte MMIO write of <paramref name="value"/>
    /// to <paramref name="address"/> signals <paramref name="eventFd"/> inside KVM, with no exit to
    /// the VMM (a virtqueue's kick straight to its backend).
    /// </summary>
    public void AddIoeventfd(ulong address, uint width, ulong value, EventFd eventFd)
    {
        var ioeventfd = new KvmIoeventfd
        {
            Addr = address,
            Len = width,
            Datamatch = value,
            Fd = (int)eventFd.Handle.DangerousGetHandle(),
            Flags = (uint)KvmIoeventfdFlags.Datamatch,
        };
        KvmThrow.Check(Ioctl(_fd, KvmIoctls.Ioeventfd, ref ioeventfd), "KVM_IOEVENTFD");
    }

    /// <summary>KVM_IRQFD: each signal of <paramref name="eventFd"/> is an edge on <paramref name="gsi"/> (a device's one interrupt eventfd, Machine/DeviceInterrupt.cs).</summary>
    public void AddIrqfd(uint gsi, EventFd eventFd)
    {
        var irqfd = new KvmIrqfd { Fd = (uint)eventFd.Handle.DangerousGetHandle(), Gsi = gsi };
        KvmThrow.Check(Ioctl(_fd, KvmIoctls.Irqfd, ref irqfd), "KVM_IRQFD");
    }

    /// <summary>
    /// KVM_SET_GSI_ROUTING: replaces the whole GSI -> irqchip pin table (KVM's default, set up by
    /// KVM_CREATE_IRQCHIP, maps GSI n to PIC pin n and IOAPIC pin n).
    /// </summary>
    public void SetGsiRouting(ReadOnlySpan<KvmIrqRoutingEntry> entries)
    {
        byte[] buffer = new byte[Unsafe.SizeOf<KvmIrqRoutingHeader>()
                                 + entries.Length * Unsafe.SizeOf<KvmIrqRoutingEntry>()];
        MemoryMarshal.Write(buffer, new KvmIrqRoutingHeader { Nr = (uint)entries.Length });
        MemoryMarshal.AsBytes(entries).CopyTo(buffer.AsSpan(Unsafe.SizeOf<KvmIrqRoutingHeader>()));
        KvmThrow.Check(Ioctl(_fd, KvmIoctls.SetGsiRouting, buffer), "KVM_SET_GSI_ROUTING");
    }

    /// <summary>KVM_CHECK_EXTENSION on the VM fd (KVM_CAP_CHECK_EXTENSION_VM): answers for this VM.</summary>
    public int CheckExtension(KvmCapability capability) =>
        KvmThrow.Check(Ioctl(_fd, KvmIoctls.CheckExtension, (ulong)capability), "KVM_CHECK_EXTENSION");

    /// <summary>KVM_CREATE_VCPU with <paramref name="id"/> (the APIC id on x86), and its kvm_run mapping.</summary>
    public KvmVcpu CreateVcpu(uint id)
    {
        int fd = KvmThrow.Check(Ioctl(_fd, KvmIoctls.CreateVcpu, id), "KVM_CREATE_VCPU");
        var handle = new FileDescriptorHandle(fd);
        MemoryMapping? run = MemoryMapping.MapShared(handle, (ulong)_vcpuMmapSize, out int errno);
        if (run is null)
        {
            handle.Dispose();
            KvmThrow.Ioctl($"mmap of vCPU {id}'s kvm_run ({_vcpuMmapSize} bytes)", errno);
        }
        return new KvmVcpu(id, handle, run);
    }

    public void Dispose() => _fd.Dispose();
}
