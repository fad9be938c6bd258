// The boot GDT and the segment registers that match it (Intel SDM vol. 3A section 3.4.5 "Segment
// Descriptors"; the values of Firecracker's arch/x86_64/gdt.rs and regs.rs). The 64-bit boot
// protocol (Documentation/arch/x86/boot.rst) asks for "a GDT loaded with the descriptors for
// selectors __BOOT_CS(0x10) and __BOOT_DS(0x18)" only in the 32-bit protocol; in 64-bit mode the
// kernel reloads its own GDT at once, so the descriptors only have to be valid for VM entry:
// a 64-bit code segment, flat data segments, and a busy TSS for TR.
using VSwitch.Vmm.Kvm.Uapi;

namespace VSwitch.Vmm.Boot;

public static class BootGdt
{
    /// <summary>Flags|access of each descriptor: G/D/L/AVL in bits 15-12, P/DPL/S/type in bits 7-0.</summary>
    public const ushort CodeFlags = 0xa09b; // G, L; present, code, execute/read, accessed
    public const ushort DataFlags = 0xc093; // G, D/B; present, data, read/write, accessed
    public const ushort TssFlags = 0x808b;  // G; present, system, 64-bit TSS (busy)

    public const ushort CodeSelector = 1 * 8;
    public const ushort DataSelector = 2 * 8;
    public const ushort TssSelector = 3 * 8;

    /// <summary>The descriptors: null, code, data, TSS (base 0, limit 0xfffff pages).</summary>
    public static ReadOnlySpan<ulong> Entries => s_entries;

    private static readonly ulong[] s_entries =
        [0, Descriptor(CodeFlags, 0, 0xfffff), Descriptor(DataFlags, 0, 0xfffff), Descriptor(TssFlags, 0, 0xfffff)];

    /// <summary>GDTR.limit: size in bytes minus one.</summary>
    public const ushort Limit = 4 * 8 - 1;

    /// <summary>IDTR.limit of the one empty gate.</summary>
    public const ushort IdtLimit = 8 - 1;

    /// <summary>A segment descriptor from its flags, base and 20-bit limit.</summary>
    public static ulong Descriptor(ushort flags, uint baseAddress, uint limit) =>
        ((ulong)(baseAddress & 0xff00_0000) << 32)
        | ((ulong)(flags & 0xf0ff) << 40)
        | ((ulong)(limit & 0x000f_0000) << 32)
        | ((ulong)(baseAddress & 0x00ff_ffff) << 16)
        | (limit & 0x0000_ffff);

    /// <summary>KVM's view (the descriptor cache) of the segment register loaded from <paramref name="descriptor"/>.</summary>
    public static KvmSegment Segment(ulong descriptor, ushort selector)
    {
        bool granularity = ((descriptor >> 55) & 1) != 0;
        uint limit = (uint)(((descriptor >> 32) & 0x000f_0000) | (descriptor & 0xffff));
        byte present = (byte)((descriptor >> 47) & 1);
        return new KvmSegment
        {
            Base = ((descriptor >> 32) & 0xff00_0000) | ((descriptor >> 16) & 0x00ff_ffff),
            Limit = granularity ? (limit << 12) | 0xfff : limit,
            Selector = selector,
            Type = (byte)((descriptor >> 40) & 0xf),
            Present = present,
            Dpl = (byte)((descriptor >> 45) & 3),
            Db = (byte)((descriptor >> 54) & 1),
            S = (byte)((descriptor >> 44) & 1),
            L = (byte)((descriptor >> 53) & 1),
            G = (byte)(granularity ? 1 : 0),
            Avl = (byte)((descriptor >> 52) & 1),
            Unusable = (byte)(present == 0 ? 1 : 0),
        };
    }
}
