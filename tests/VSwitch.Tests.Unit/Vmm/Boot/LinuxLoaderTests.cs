// A whole load into real guest memory (memfd, no KVM): where each piece lands, what the zero page
// says about it, the page tables and GDT the boot CPU starts on, and every refusal.
using System.Buffers.Binary;
using System.Text;
using VSwitch.Vmm.Acpi;
using VSwitch.Vmm.Boot;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;
using VSwitch.Vmm.Layout;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Boot;

public sealed class LinuxLoaderTests : IDisposable
{
    /// <summary>LinuxLoader.Load with the images as bytes; an empty initramfs is none.</summary>
    private static BootCpuState Load(GuestMemory memory, E820Map map, byte[] kernel, byte[] initramfs, string commandLine, int vcpus)
    {
        using BootImage kernelImage = BootImage.FromBytes(kernel, "kernel");
        using BootImage? initramfsImage = initramfs.Length == 0 ? null : BootImage.FromBytes(initramfs, "initramfs");
        return LinuxLoader.Load(memory, map, kernelImage, initramfsImage, commandLine, vcpus);
    }

    private const ulong MiB = 1UL << 20;
    private readonly E820Map _map = E820Map.ForMemorySize(64 * MiB);
    private readonly GuestMemory _memory;

    public LinuxLoaderTests() => _memory = GuestMemory.Create(_map.RamRegions);

    public void Dispose() => _memory.Dispose();

    private static byte[] Initramfs(int length) => [.. Enumerable.Range(0, length).Select(i => (byte)(i * 13 + 1))];

    private ulong ReadU64(ulong address) => BinaryPrimitives.ReadUInt64LittleEndian(_memory.GetSpan(address, 8));
    private uint ReadU32(ulong address) => BinaryPrimitives.ReadUInt32LittleEndian(_memory.GetSpan(address, 4));

    [Fact]
    public void Kernel_goes_to_pref_address_and_rip_to_its_64_bit_entry()
    {
        var kernel = new TestKernel();
        BootCpuState cpu = Load(_memory, _map, kernel.Build(), [], "console=ttyS0", 1);
        Assert.Equal(kernel.Build()[kernel.SetupLength..], _memory.GetSpan(kernel.PrefAddress, kernel.PayloadLength).ToArray());
        Assert.Equal(kernel.PrefAddress + 0x200, cpu.Registers.Rip);
        Assert.Equal(MemoryLayout.ZeroPage, cpu.Registers.Rsi);
        Assert.Equal(MemoryLayout.BootStack, cpu.Registers.Rsp);
        Assert.Equal(MemoryLayout.BootStack, cpu.Registers.Rbp);
        Assert.Equal(2UL, cpu.Registers.Rflags);
    }

    [Fact]
    public void Images_read_from_files_in_pieces_land_whole()
    {
        // Larger than the 1 MiB pieces BootImage copies in, and not a multiple of them.
        var kernel = new TestKernel { PayloadLength = 2 * (int)MiB + 4097, InitSize = 4 * (uint)MiB };
        byte[] initramfs = Initramfs((int)MiB + 3);
        string folder = Directory.CreateTempSubdirectory("vmm-boot.").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(folder, "bzImage"), kernel.Build());
            File.WriteAllBytes(Path.Combine(folder, "initrd"), initramfs);
            using BootImage kernelFile = BootImage.Open(Path.Combine(folder, "bzImage"));
            using BootImage initramfsFile = BootImage.Open(Path.Combine(folder, "initrd"));
            LinuxLoader.Load(_memory, _map, kernelFile, initramfsFile, "", 1);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
        Assert.Equal(kernel.Build()[kernel.SetupLength..], _memory.GetSpan(kernel.PrefAddress, kernel.PayloadLength).ToArray());
        ulong at = ReadU32(MemoryLayout.ZeroPage + 0x218);
        Assert.Equal(initramfs, _memory.GetSpan(at, initramfs.Length).ToArray());
    }

    [Fact]
    public void Command_line_is_nul_terminated_and_pointed_to()
    {
        const string commandLine = "console=ttyS0 reboot=k panic=1";
        Load(_memory, _map, new TestKernel().Build(), [], commandLine, 1);
        Assert.Equal((uint)MemoryLayout.CommandLine, ReadU32(MemoryLayout.ZeroPage + 0x228));
        Assert.Equal(0u, ReadU32(MemoryLayout.ZeroPage + 0x0c8));
        byte[] expected = [.. Encoding.ASCII.GetBytes(commandLine), 0];
        Assert.Equal(expected, _memory.GetSpan(MemoryLayout.CommandLine, expected.Length).ToArray());
    }

    [Fact]
    public void Initramfs_goes_page_aligned_to_the_top_of_low_ram()
    {
        byte[] initramfs = Initramfs(100_000);
        Load(_memory, _map, new TestKernel().Build(), initramfs, "", 1);
        ulong expected = (64 * MiB - 100_000) & ~0xfffUL;
        Assert.Equal((uint)expected, ReadU32(MemoryLayout.ZeroPage + 0x218));
        Assert.Equal(100_000u, ReadU32(MemoryLayout.ZeroPage + 0x21c));
        Assert.Equal(initramfs, _memory.GetSpan(expected, initramfs.Length).ToArray());
    }

    [Fact]
    public void Initramfs_respects_initrd_addr_max()
    {
        var kernel = new TestKernel { InitrdAddrMax = 0x20f_ffff }; // 33 MiB - 1
        Load(_memory, _map, kernel.Build(), Initramfs(5000), "", 1);
        ulong address = ReadU32(MemoryLayout.ZeroPage + 0x218);
        Assert.Equal(0x20f_f000UL - 0x1000, address); // ends at or below 0x20fffff: 0x20fe000 + 5000 = 0x20ff388
        Assert.True(address + 5000 - 1 <= kernel.InitrdAddrMax);
    }

    [Fact]
    public void Zero_page_carries_the_e820_map_rsdp_and_loader_fields()
    {
        Load(_memory, _map, new TestKernel().Build(), [], "", 2);
        ReadOnlySpan<byte> zeroPage = _memory.GetSpan(MemoryLayout.ZeroPage, 4096);
        Assert.Equal(_map.Entries.Count, zeroPage[0x1e8]);
        Assert.Equal(_map.Entries[2].Address, BinaryPrimitives.ReadUInt64LittleEndian(zeroPage[(0x2d0 + 40)..]));
        Assert.Equal(MemoryLayout.AcpiTables, BinaryPrimitives.ReadUInt64LittleEndian(zeroPage[0x070..]));
        Assert.Equal(0xff, zeroPage[0x210]);
        Assert.Equal("HdrS", Encoding.ASCII.GetString(zeroPage.Slice(0x202, 4)));
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(_memory.GetSpan(MemoryLayout.AcpiTables, 8)));
    }

    [Fact]
    public void Acpi_tables_in_memory_are_those_built_for_the_vcpu_count()
    {
        Load(_memory, _map, new TestKernel().Build(), [], "", 3);
        AcpiTables expected = AcpiTables.Build(new AcpiConfig(3));
        Assert.Equal(expected.Image, _memory.GetSpan(expected.Address, expected.Image.Length).ToArray());
    }

    [Fact]
    public void Page_tables_identity_map_the_first_4_gib_with_2_mib_pages()
    {
        BootCpuState cpu = Load(_memory, _map, new TestKernel().Build(), [], "", 1);
        Assert.Equal(MemoryLayout.Pml4, cpu.Cr3);
        // Walk the tables for a few addresses, as the MMU would (SDM vol. 3A 4.5).
        foreach (ulong virtualAddress in new ulong[] { 0, MemoryLayout.ZeroPage, 0x100_0200, 0x3fff_ffff, 0x4000_0000, 0xfee0_0000, 0xffff_ffff })
        {
            ulong pml4e = ReadU64(cpu.Cr3 + ((virtualAddress >> 39) & 0x1ff) * 8);
            Assert.Equal(0x3UL, pml4e & 0x3);
            ulong pdpte = ReadU64((pml4e & ~0xfffUL) + ((virtualAddress >> 30) & 0x1ff) * 8);
            Assert.Equal(0x3UL, pdpte & 0x83); // present, writable, not a 1 GiB page
            ulong pde = ReadU64((pdpte & ~0xfffUL) + ((virtualAddress >> 21) & 0x1ff) * 8);
            Assert.Equal(0x83UL, pde & 0x83);  // present, writable, 2 MiB page
            Assert.Equal(virtualAddress, (pde & ~0x1f_ffffUL) | (virtualAddress & 0x1f_ffff));
        }
        // Nothing at or beyond 512 GiB, nor past the four page directories.
        Assert.Equal(0UL, ReadU64(cpu.Cr3 + 8));
        Assert.Equal(0UL, ReadU64(MemoryLayout.Pdpt + 4 * 8));
    }

    [Fact]
    public void Gdt_in_memory_matches_the_segments_of_the_boot_cpu()
    {
        BootCpuState cpu = Load(_memory, _map, new TestKernel().Build(), [], "", 1);
        Assert.Equal(MemoryLayout.Gdt, cpu.Gdt.Base);
        Assert.Equal(31, cpu.Gdt.Limit);
        Assert.Equal(0UL, ReadU64(MemoryLayout.Gdt));
        Assert.Equal(0x00af_9b00_0000_ffffUL, ReadU64(MemoryLayout.Gdt + 8));  // code64: the descriptor Firecracker builds
        Assert.Equal(0x00cf_9300_0000_ffffUL, ReadU64(MemoryLayout.Gdt + 16)); // data
        Assert.Equal(0x008f_8b00_0000_ffffUL, ReadU64(MemoryLayout.Gdt + 24)); // busy 64-bit TSS
        Assert.Equal(MemoryLayout.Idt, cpu.Idt.Base);
        Assert.Equal(7, cpu.Idt.Limit);
        Assert.Equal(0UL, ReadU64(MemoryLayout.Idt));

        Assert.Equal(new KvmSegment { Base = 0, Limit = 0xffff_ffff, Selector = 0x08, Type = 0xb, Present = 1, Dpl = 0, Db = 0, S = 1, L = 1, G = 1 }, cpu.Code);
        Assert.Equal(new KvmSegment { Base = 0, Limit = 0xffff_ffff, Selector = 0x10, Type = 0x3, Present = 1, Dpl = 0, Db = 1, S = 1, L = 0, G = 1 }, cpu.Data);
        Assert.Equal(new KvmSegment { Base = 0, Limit = 0xffff_ffff, Selector = 0x18, Type = 0xb, Present = 1, Dpl = 0, Db = 0, S = 0, L = 0, G = 1 }, cpu.Tss);
    }

    [Fact]
    public void Apply_sets_long_mode_and_keeps_what_kvm_owns()
    {
        BootCpuState cpu = Load(_memory, _map, new TestKernel().Build(), [], "", 1);
        var sregs = new KvmSregs { ApicBase = 0xfee0_0900, Cr8 = 0, Cr2 = 0x1234 };
        sregs.InterruptBitmap[1] = 0x40;
        sregs.Ldt = new KvmSegment { Selector = 0x55 };
        cpu.ApplyTo(ref sregs);
        Assert.Equal(0x8000_0011UL, sregs.Cr0); // PG | ET | PE
        Assert.Equal(MemoryLayout.Pml4, sregs.Cr3);
        Assert.Equal(0x20UL, sregs.Cr4);        // PAE
        Assert.Equal(0x500UL, sregs.Efer);      // LMA | LME
        Assert.Equal(cpu.Code, sregs.Cs);
        Assert.All(new[] { sregs.Ds, sregs.Es, sregs.Fs, sregs.Gs, sregs.Ss }, s => Assert.Equal(cpu.Data, s));
        Assert.Equal(cpu.Tss, sregs.Tr);
        Assert.Equal(0xfee0_0900UL, sregs.ApicBase);
        Assert.Equal(0x1234UL, sregs.Cr2);
        Assert.Equal(0x40UL, sregs.InterruptBitmap[1]);
        Assert.Equal(0x55, sregs.Ldt.Selector);
    }

    [Fact]
    public void Memory_above_the_hole_is_accepted()
    {
        E820Map map = E820Map.ForMemorySize(4UL << 30);
        using GuestMemory memory = GuestMemory.Create(map.RamRegions);
        ulong InitramfsAddress() => BinaryPrimitives.ReadUInt32LittleEndian(memory.GetSpan(MemoryLayout.ZeroPage + 0x218, 4));
        Load(memory, map, new TestKernel().Build(), Initramfs(4096), "", 4);
        Assert.Equal(0x8000_0000UL - 4096, InitramfsAddress()); // initrd_addr_max 0x7fffffff is the bound
        Load(memory, map, new TestKernel { InitrdAddrMax = 0xffff_ffff }.Build(), Initramfs(4096), "", 4);
        Assert.Equal(MemoryLayout.MmioHoleStart - 4096, InitramfsAddress()); // top of low RAM, never above 4 GiB
    }

    [Fact]
    public void Kernel_that_does_not_fit_below_the_hole_is_refused()
    {
        var kernel = new TestKernel { InitSize = 60 * (uint)MiB }; // 16 MiB + 60 MiB > 64 MiB
        var e = Assert.Throws<LinuxBootException>(() => Load(_memory, _map, kernel.Build(), [], "", 1));
        Assert.StartsWith("kernel image: ", e.Message);
        Assert.Contains("init_size", e.Message);
    }

    [Fact]
    public void Initramfs_that_does_not_fit_above_the_kernel_is_refused()
    {
        // Kernel: [16 MiB, 20 MiB); low RAM ends at 64 MiB; 45 MiB cannot fit in the 44 MiB between.
        var e = Assert.Throws<LinuxBootException>(() => Load(_memory, _map, new TestKernel().Build(), Initramfs((int)(45 * MiB)), "", 1));
        Assert.StartsWith("initramfs: ", e.Message);
        Load(_memory, _map, new TestKernel().Build(), Initramfs((int)(44 * MiB)), "", 1);
        Assert.Equal(20 * MiB, ReadU32(MemoryLayout.ZeroPage + 0x218));
    }

    [Fact]
    public void Initramfs_above_initrd_addr_max_is_refused()
    {
        var kernel = new TestKernel { InitrdAddrMax = 0x140_0fff }; // only 0x1000 + a bit above the kernel's 20 MiB end
        Assert.StartsWith("initramfs: ", Assert.Throws<LinuxBootException>(() => Load(_memory, _map, kernel.Build(), Initramfs(0x2000), "", 1)).Message);
    }

    [Fact]
    public void Command_lines_longer_than_cmdline_size_are_refused()
    {
        var kernel = new TestKernel { CmdlineSize = 16 };
        Load(_memory, _map, kernel.Build(), [], new string('a', 16), 1);
        var e = Assert.Throws<LinuxBootException>(() => Load(_memory, _map, kernel.Build(), [], new string('a', 17), 1));
        Assert.Contains("kernel command line: 17 bytes", e.Message);
        Assert.Contains("NUL", Assert.Throws<LinuxBootException>(() => Load(_memory, _map, kernel.Build(), [], "a\0b", 1)).Message);
    }

    [Fact]
    public void Pref_address_not_aligned_for_a_relocatable_kernel_is_refused() =>
        Assert.Contains("kernel_alignment", Assert.Throws<LinuxBootException>(() =>
            Load(_memory, _map, new TestKernel { PrefAddress = 0x110_0000 }.Build(), [], "", 1)).Message);

    [Fact]
    public void Pref_address_below_1_mib_is_refused() =>
        Assert.Contains("below 1 MiB", Assert.Throws<LinuxBootException>(() =>
            Load(_memory, _map, new TestKernel { PrefAddress = 0x8_0000, Relocatable = 0 }.Build(), [], "", 1)).Message);

    [Fact]
    public void Memory_not_made_from_the_map_is_refused()
    {
        using GuestMemory other = GuestMemory.Create(32 * MiB);
        Assert.StartsWith("guest memory: ", Assert.Throws<LinuxBootException>(() => Load(other, _map, new TestKernel().Build(), [], "", 1)).Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(255)]
    public void Vcpu_counts_outside_the_madt_range_are_refused(int vcpus) =>
        Assert.StartsWith("vcpu count: ", Assert.Throws<LinuxBootException>(() => Load(_memory, _map, new TestKernel().Build(), [], "", vcpus)).Message);
}
