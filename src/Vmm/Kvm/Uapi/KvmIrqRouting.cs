// struct kvm_irq_routing / kvm_irq_routing_entry, include/uapi/linux/kvm.h (Documentation/virt/
// kvm/api.rst section "KVM_SET_GSI_ROUTING"): which interrupt controller input each GSI drives.
// An 8-byte header, then nr entries of 48 bytes (the union is padded to 32 bytes).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

[StructLayout(LayoutKind.Sequential)]
public struct KvmIrqRoutingHeader
{
    public uint Nr;
    public uint Flags;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmIrqRoutingEntry
{
    /// <summary>KVM_IRQ_ROUTING_IRQCHIP: the GSI drives a pin of an in-kernel PIC or IOAPIC.</summary>
    public const uint TypeIrqchip = 1;

    /// <summary>KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE, KVM_IRQCHIP_IOAPIC.</summary>
    public const uint PicMaster = 0, PicSlave = 1, IoApic = 2;

    public uint Gsi;
    public uint Type;
    public uint Flags;
    public uint Padding;
    public uint Irqchip;
    public uint Pin;
    public RoutingEntryPadding Rest;

    public static KvmIrqRoutingEntry ToIrqchip(uint gsi, uint irqchip, uint pin) =>
        new() { Gsi = gsi, Type = TypeIrqchip, Irqchip = irqchip, Pin = pin };
}

/// <summary>The union's 32 bytes less the irqchip member's 8.</summary>
[InlineArray(6)]
public struct RoutingEntryPadding
{
    private uint _element0;
}
