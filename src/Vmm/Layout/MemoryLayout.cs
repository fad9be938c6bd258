// Where the VMM puts the boot structures in guest-physical memory for the Linux x86 64-bit boot
// protocol (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"). The low addresses follow
// Firecracker's arch/x86_64/layout.rs, whose guests are stock Linux kernels: everything the
// kernel reads before it sets up its own page tables sits below 1 MiB in RAM that the E820 map
// reports as usable (the kernel reclaims it after boot), except the ACPI tables, which live in
// the BIOS area 0xE0000-0xFFFFF that the kernel scans for the RSDP (ACPI 6.4 section 5.2.5.1).
namespace VSwitch.Vmm.Layout;

public static class MemoryLayout
{
    /// <summary>GDT: null, code64, data, TSS descriptors (Boot/BootGdt.cs).</summary>
    public const ulong Gdt = 0x500;

    /// <summary>IDT: one empty 8-byte gate; the kernel loads its own before enabling interrupts.</summary>
    public const ulong Idt = 0x520;

    /// <summary>The zero page (struct boot_params); RSI points here at the 64-bit entry.</summary>
    public const ulong ZeroPage = 0x7000;

    /// <summary>Initial RSP/RBP of the boot CPU; the stack grows down towards the zero page.</summary>
    public const ulong BootStack = 0x8ff0;

    /// <summary>Identity page tables: PML4, one PDPT, then <see cref="PageDirectoryCount"/> PDs.</summary>
    public const ulong Pml4 = 0x9000;
    public const ulong Pdpt = 0xa000;
    public const ulong PageDirectories = 0xb000;

    /// <summary>PDs of 512 2 MiB pages each: 4 map the first 4 GiB.</summary>
    public const int PageDirectoryCount = 4;

    /// <summary>The kernel command line, NUL-terminated.</summary>
    public const ulong CommandLine = 0x20000;

    /// <summary>Room for the command line before the EBDA; the kernel's cmdline_size is the tighter bound.</summary>
    public const ulong CommandLineMaxSize = Ebda - CommandLine;

    /// <summary>Start of the Extended BIOS Data Area: RAM below it is usable, from here to 1 MiB reserved.</summary>
    public const ulong Ebda = 0x9fc00;

    /// <summary>ACPI tables (RSDP first, at the start of the area the kernel scans for it).</summary>
    public const ulong AcpiTables = 0xe0000;

    /// <summary>End of the ACPI area and of the legacy BIOS area.</summary>
    public const ulong AcpiTablesEnd = HighMemory;

    /// <summary>1 MiB: start of RAM above the legacy area.</summary>
    public const ulong HighMemory = 0x100000;

    /// <summary>
    /// Start of the 32-bit MMIO hole: no RAM from here to 4 GiB. Device MMIO (virtio-mmio), the
    /// IOAPIC and the local APICs live in it; RAM beyond it continues at <see cref="FourGiB"/>.
    /// </summary>
    public const ulong MmioHoleStart = 0xc000_0000;

    public const ulong FourGiB = 0x1_0000_0000;

    /// <summary>Default IOAPIC base (MADT I/O APIC structure; KVM's in-kernel IOAPIC).</summary>
    public const ulong IoApic = 0xfec0_0000;

    /// <summary>Local APIC base of every vCPU (MADT Local Interrupt Controller Address).</summary>
    public const ulong LocalApic = 0xfee0_0000;

    /// <summary>
    /// First address for device MMIO windows (virtio-mmio): the start of the hole, well below the
    /// IOAPIC and local APIC pages.
    /// </summary>
    public const ulong DeviceMmio = MmioHoleStart;
}
