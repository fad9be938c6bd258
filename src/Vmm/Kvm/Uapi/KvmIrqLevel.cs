// struct kvm_irq_level, include/uapi/linux/kvm.h (Documentation/virt/kvm/api.rst 4.25
// KVM_IRQ_LINE): drives one GSI of the in-kernel PIC/IOAPIC to a level. 8 bytes.
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

[StructLayout(LayoutKind.Sequential)]
public struct KvmIrqLevel
{
    /// <summary>The GSI; ISA IRQs 0-15 are GSIs 0-15 on both the PIC and the IOAPIC.</summary>
    public uint Irq;
    /// <summary>1 asserts, 0 deasserts; an edge-triggered input fires on 0 -> 1.</summary>
    public uint Level;
}
