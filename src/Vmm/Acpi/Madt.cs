// Multiple APIC Description Table, revision 5 (ACPI 6.4 section 5.2.12): the interrupt
// controllers of a KVM VM with the in-kernel irqchip (KVM_CREATE_IRQCHIP: PIC, IOAPIC with 24
// pins, a local APIC per vCPU). APIC ID and ACPI processor UID of vCPU i are both i, as the
// per-vCPU CPUID says (CpuidTopology).
using System.Buffers.Binary;
using VSwitch.Vmm.Layout;

namespace VSwitch.Vmm.Acpi;

internal static class Madt
{
    public const byte Revision = 5;
    public const uint PcatCompat = 1; // dual 8259 PICs present (KVM's), the OS masks them

    public const byte TypeLocalApic = 0, TypeIoApic = 1, TypeInterruptSourceOverride = 2, TypeLocalApicNmi = 4;
    public const int LocalApicLength = 8, IoApicLength = 12, InterruptSourceOverrideLength = 10, LocalApicNmiLength = 6;
    public const byte IoApicId = 0;
    public const uint LocalApicEnabled = 1;

    // MPS INTI flags (table 5.26): polarity bits 1-0, trigger mode bits 3-2.
    public const ushort ActiveHighLevel = 0b01 | (0b11 << 2);
    public const ushort ConformsToBus = 0;

    /// <summary>Local APIC NMI for all processors (UID 0xff) on LINT1, as PC firmware wires it.</summary>
    public const byte AllProcessors = 0xff;

    public static byte[] Build(int vcpuCount)
    {
        var body = new List<byte>();
        Append(body, 8, w =>
        {
            BinaryPrimitives.WriteUInt32LittleEndian(w, (uint)MemoryLayout.LocalApic);
            BinaryPrimitives.WriteUInt32LittleEndian(w[4..], PcatCompat);
        });
        for (int cpu = 0; cpu < vcpuCount; cpu++)
        {
            Append(body, LocalApicLength, w =>
            {
                w[0] = TypeLocalApic;
                w[1] = LocalApicLength;
                w[2] = (byte)cpu; // ACPI processor UID
                w[3] = (byte)cpu; // APIC ID
                BinaryPrimitives.WriteUInt32LittleEndian(w[4..], LocalApicEnabled);
            });
        }
        Append(body, IoApicLength, w =>
        {
            w[0] = TypeIoApic;
            w[1] = IoApicLength;
            w[2] = IoApicId;
            BinaryPrimitives.WriteUInt32LittleEndian(w[4..], (uint)MemoryLayout.IoApic);
            BinaryPrimitives.WriteUInt32LittleEndian(w[8..], 0); // GSI base
        });
        // The PIT's IRQ 0 is wired to IOAPIC pin 2 on PCs. KVM's default GSI routing
        // (arch/x86/kvm/irq_comm.c) sends GSI 0 to pin 0 instead, so the VMM installs routing that
        // matches this override; without it a KVM guest (no_timer_check) waits for ticks forever.
        AppendOverride(body, 0, 2, ConformsToBus);
        // The SCI is level-triggered (section 5.2.9: the OS treats it as "shareable, level, active
        // low" unless an override says otherwise). Active high here, as QEMU's MADT says too: KVM's
        // in-kernel IOAPIC and PIC take the level of KVM_IRQ_LINE as "asserted" and ignore the
        // redirection entry's polarity bit, so the VMM drives 1 for asserted whichever the guest
        // programs, and active high keeps the guest's view the same as the wire's.
        AppendOverride(body, AcpiPorts.SciInterrupt, AcpiPorts.SciInterrupt, ActiveHighLevel);
        Append(body, LocalApicNmiLength, w =>
        {
            w[0] = TypeLocalApicNmi;
            w[1] = LocalApicNmiLength;
            w[2] = AllProcessors;
            BinaryPrimitives.WriteUInt16LittleEndian(w[3..], ConformsToBus);
            w[5] = 1; // LINT1
        });
        return SystemDescriptionTable.Create("APIC", Revision, body.ToArray());
    }

    private static void AppendOverride(List<byte> body, byte source, uint gsi, ushort flags) =>
        Append(body, InterruptSourceOverrideLength, w =>
        {
            w[0] = TypeInterruptSourceOverride;
            w[1] = InterruptSourceOverrideLength;
            w[2] = 0; // bus: ISA
            w[3] = source;
            BinaryPrimitives.WriteUInt32LittleEndian(w[4..], gsi);
            BinaryPrimitives.WriteUInt16LittleEndian(w[8..], flags);
        });

    private delegate void Writer(Span<byte> destination);

    private static void Append(List<byte> body, int length, Writer write)
    {
        Span<byte> entry = stackalloc byte[length];
        entry.Clear();
        write(entry);
        body.AddRange(entry);
    }
}
