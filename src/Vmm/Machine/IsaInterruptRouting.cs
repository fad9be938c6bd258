// How the 16 ISA IRQs reach the in-kernel interrupt controllers: the PC wiring, as the MADT
// describes it (ACPI 6.4 section 5.2.12.5 "Interrupt Source Override Structure"; src/Vmm/Acpi/Madt.cs
// overrides IRQ 0 to GSI 2). ISA IRQ n drives 8259 input n (IRQ 2 is the cascade) and IOAPIC pin n,
// except the PIT's IRQ 0, which is wired to IOAPIC pin 2 (Intel MultiProcessor Specification 1.4,
// 5.1 "Default Configurations"). KVM's in-kernel PIT always raises GSI 0, and KVM's default
// routing sends GSI 0 to IOAPIC pin 0; so without this table a guest that believes the MADT
// programs pin 2 for its timer and never gets a tick (Linux then stops its clock: "APIC timer
// disabled due to verification failure" and no time passes). QEMU installs the same table
// (hw/i386/kvm/ioapic.c kvm_pc_setup_irq_routing).
using VSwitch.Vmm.Kvm.Uapi;

namespace VSwitch.Vmm.Machine;

internal static class IsaInterruptRouting
{
    private const int IoApicPins = 24;
    private const uint PitIrq = 0;
    private const uint CascadeIrq = 2;

    public static KvmIrqRoutingEntry[] Entries()
    {
        var entries = new List<KvmIrqRoutingEntry>();
        for (uint irq = 0; irq < 16; irq++)
        {
            if (irq == CascadeIrq)
                continue;
            entries.Add(irq < 8
                ? KvmIrqRoutingEntry.ToIrqchip(irq, KvmIrqRoutingEntry.PicMaster, irq)
                : KvmIrqRoutingEntry.ToIrqchip(irq, KvmIrqRoutingEntry.PicSlave, irq - 8));
        }
        for (uint gsi = 0; gsi < IoApicPins; gsi++)
        {
            if (gsi == CascadeIrq)
                continue;
            entries.Add(KvmIrqRoutingEntry.ToIrqchip(gsi, KvmIrqRoutingEntry.IoApic, gsi == PitIrq ? CascadeIrq : gsi));
        }
        return [.. entries];
    }
}
