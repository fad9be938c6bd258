// Loads a bzImage kernel, an initramfs and a command line into guest memory and fills everything
// the 64-bit boot protocol needs (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"):
// the zero page, identity page tables, GDT/IDT, ACPI tables; returns the boot CPU's registers.
//
// Where things go (all below the MMIO hole, all identity-mapped by PageTables):
//   0x500 GDT, 0x520 IDT, 0x7000 zero page, 0x9000.. page tables, 0x20000 command line,
//   0xE0000 ACPI tables, pref_address kernel (+ init_size), initramfs at the top of low RAM.
// The kernel is loaded at pref_address rather than 1 MiB: boot.rst says a relocatable kernel
// "should" be loaded there, a non-relocatable one moves itself there anyway, and the 64-bit
// decompressor never runs below it (it raises its output address to LOAD_PHYSICAL_ADDR), so
// [pref_address, pref_address + init_size) is what the kernel uses in every case.
using System.Buffers.Binary;
using System.Text;
using VSwitch.Vmm.Acpi;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Layout;

namespace VSwitch.Vmm.Boot;

public static class LinuxLoader
{
    /// <summary>
    /// Writes the boot image into <paramref name="memory"/> (created from <paramref name="map"/>'s
    /// RamRegions) and returns the state for the boot vCPU. <paramref name="initramfs"/> empty
    /// means none. Throws <see cref="LinuxBootException"/> naming the input that does not fit.
    /// </summary>
    public static BootCpuState Load(GuestMemory memory, E820Map map, BootImage kernel, BootImage? initramfs,
        string commandLine, int vcpuCount, IReadOnlyList<VirtioMmioAcpiDevice>? virtioMmioDevices = null)
    {
        CheckMemoryMatchesMap(memory, map);
        if (vcpuCount < 1 || vcpuCount > AcpiTables.MaxVcpus)
            throw new LinuxBootException($"vcpu count: {vcpuCount} is outside [1, {AcpiTables.MaxVcpus}]");

        BzImage image = BzImage.Parse(kernel.ReadHead(BzImage.MaxSetupBytes), kernel.Length);
        ulong kernelAddress = KernelAddress(image, map);
        ulong kernelEnd = kernelAddress + image.InitSize;
        kernel.CopyTo(memory, kernelAddress, image.ProtectedModeOffset, image.ProtectedModeLength);

        var zeroPage = new BootParams(image);
        zeroPage.CommandLine = WriteCommandLine(memory, image, commandLine);
        if (initramfs is { Length: > 0 })
        {
            ulong initramfsAddress = InitramfsAddress(image, map, kernelEnd, (ulong)initramfs.Length);
            initramfs.CopyTo(memory, initramfsAddress, 0, initramfs.Length);
            zeroPage.SetRamdisk(initramfsAddress, (ulong)initramfs.Length);
        }

        AcpiTables acpi = AcpiTables.Build(new AcpiConfig(vcpuCount, virtioMmioDevices ?? []));
        if ((ulong)acpi.Image.Length > MemoryLayout.AcpiTablesEnd - acpi.Address)
            throw new LinuxBootException(
                $"acpi tables: {acpi.Image.Length} bytes do not fit in [0x{acpi.Address:x}, 0x{MemoryLayout.AcpiTablesEnd:x})");
        memory.Write(acpi.Address, acpi.Image);
        zeroPage.AcpiRsdp = acpi.Address;
        zeroPage.SetE820(map.Entries);
        memory.Write(MemoryLayout.ZeroPage, zeroPage.Bytes);

        WriteDescriptorTables(memory);
        PageTables.Write(memory);
        return BootCpuState.ForKernelAt(kernelAddress);
    }

    private static void CheckMemoryMatchesMap(GuestMemory memory, E820Map map)
    {
        ReadOnlySpan<GuestMemoryRegion> regions = memory.Regions;
        ReadOnlySpan<(ulong GuestAddress, ulong Size)> expected = map.RamRegions;
        bool same = regions.Length == expected.Length;
        for (int i = 0; same && i < regions.Length; i++)
            same = regions[i].GuestAddress == expected[i].GuestAddress && regions[i].Size == expected[i].Size;
        if (!same)
            throw new LinuxBootException(
                $"guest memory: its regions ({string.Join(", ", regions.ToArray().Select(r => $"0x{r.GuestAddress:x}+0x{r.Size:x}"))}) are not the e820 map's RAM regions; create it from E820Map.RamRegions");
    }

    private static ulong KernelAddress(BzImage image, E820Map map)
    {
        ulong address = image.PrefAddress;
        if (address < MemoryLayout.HighMemory)
            throw new LinuxBootException($"kernel image: pref_address 0x{address:x} is below 1 MiB");
        if (image.Relocatable && address % image.KernelAlignment != 0)
            throw new LinuxBootException($"kernel image: pref_address 0x{address:x} is not a multiple of kernel_alignment 0x{image.KernelAlignment:x}");
        if (address > map.LowRamEnd || image.InitSize > map.LowRamEnd - address)
            throw new LinuxBootException(
                $"kernel image: needs [0x{address:x}, 0x{address + image.InitSize:x}) (pref_address + init_size) but RAM below the MMIO hole ends at 0x{map.LowRamEnd:x}; give the VM more memory");
        return address;
    }

    /// <summary>Writes the NUL-terminated command line; returns its address.</summary>
    private static ulong WriteCommandLine(GuestMemory memory, BzImage image, string commandLine)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(commandLine);
        if (bytes.AsSpan().Contains((byte)0))
            throw new LinuxBootException("kernel command line: contains a NUL byte");
        ulong limit = Math.Min(image.CmdlineSize, MemoryLayout.CommandLineMaxSize - 1);
        if ((ulong)bytes.Length > limit)
            throw new LinuxBootException($"kernel command line: {bytes.Length} bytes, the kernel accepts at most {limit} (cmdline_size)");
        memory.Write(MemoryLayout.CommandLine, bytes);
        memory.Write(MemoryLayout.CommandLine + (ulong)bytes.Length, [0]);
        return MemoryLayout.CommandLine;
    }

    /// <summary>
    /// The highest page-aligned address where the initramfs ends at or below both initrd_addr_max
    /// and the end of low RAM (boot.rst: load it "as high as possible"), above the kernel's init_size.
    /// </summary>
    private static ulong InitramfsAddress(BzImage image, E820Map map, ulong kernelEnd, ulong size)
    {
        ulong top = Math.Min((ulong)image.InitrdAddrMax + 1, map.LowRamEnd);
        if (size > top || (top - size) / GuestMemory.PageSize * GuestMemory.PageSize < kernelEnd)
            throw new LinuxBootException(
                $"initramfs: {size} bytes do not fit between the kernel's end 0x{kernelEnd:x} and 0x{top:x} (min of initrd_addr_max + 1 and the end of low RAM); give the VM more memory");
        return (top - size) / GuestMemory.PageSize * GuestMemory.PageSize;
    }

    private static void WriteDescriptorTables(GuestMemory memory)
    {
        ReadOnlySpan<ulong> gdt = BootGdt.Entries;
        Span<byte> table = memory.GetSpan(MemoryLayout.Gdt, gdt.Length * sizeof(ulong));
        for (int i = 0; i < gdt.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(table[(i * sizeof(ulong))..], gdt[i]);
        memory.GetSpan(MemoryLayout.Idt, BootGdt.IdtLimit + 1).Clear();
    }
}
