// The zero page's layout against arch/x86/include/uapi/asm/bootparam.h (Linux 6.1: the offsets
// are the comments on struct boot_params and struct setup_header there) and what the loader
// writes into it.
using System.Buffers.Binary;
using VSwitch.Vmm.Boot;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Boot;

public sealed class BootParamsTests
{
    [Fact]
    public void Offsets_are_those_of_bootparam_h()
    {
        Assert.Equal(4096, BootParams.Size);
        Assert.Equal(0x070, BootParams.AcpiRsdpAddr);      // __u64 acpi_rsdp_addr
        Assert.Equal(0x0c0, BootParams.ExtRamdiskImage);   // __u32 ext_ramdisk_image
        Assert.Equal(0x0c4, BootParams.ExtRamdiskSize);    // __u32 ext_ramdisk_size
        Assert.Equal(0x0c8, BootParams.ExtCmdLinePtr);     // __u32 ext_cmd_line_ptr
        Assert.Equal(0x1e8, BootParams.E820EntriesOffset); // __u8 e820_entries
        Assert.Equal(0x2d0, BootParams.E820Table);         // struct boot_e820_entry e820_table[128]
        Assert.Equal(20, BootParams.E820EntrySize);        // packed { __u64 addr; __u64 size; __u32 type; }
        Assert.Equal(0xcd0, BootParams.E820Table + E820Map.MaxEntries * BootParams.E820EntrySize); // _pad8 follows
        Assert.Equal(0x1f1, BzImage.Header.Start);         // struct setup_header hdr
        Assert.Equal(0x210, BzImage.Header.TypeOfLoader);
        Assert.Equal(0x211, BzImage.Header.LoadFlags);
        Assert.Equal(0x218, BzImage.Header.RamdiskImage);
        Assert.Equal(0x21c, BzImage.Header.RamdiskSize);
        Assert.Equal(0x224, BzImage.Header.HeapEndPtr);
        Assert.Equal(0x228, BzImage.Header.CmdLinePtr);
        Assert.Equal(0x22c, BzImage.Header.InitrdAddrMax);
        Assert.Equal(0x230, BzImage.Header.KernelAlignment);
        Assert.Equal(0x234, BzImage.Header.RelocatableKernel);
        Assert.Equal(0x236, BzImage.Header.XLoadFlags);
        Assert.Equal(0x238, BzImage.Header.CmdlineSize);
        Assert.Equal(0x258, BzImage.Header.PrefAddress);
        Assert.Equal(0x260, BzImage.Header.InitSize);
        Assert.Equal(0x290, BzImage.Header.MaximumEnd);    // __u32 edd_mbr_sig_buffer[]
    }

    [Fact]
    public void Setup_header_is_copied_and_the_loader_fields_set()
    {
        byte[] kernel = new TestKernel().Build();
        var zeroPage = new BootParams(BzImage.Parse(kernel));
        ReadOnlySpan<byte> bytes = zeroPage.Bytes;
        Assert.Equal(BootParams.Size, bytes.Length);
        // Everything of the header but the fields the loader owns is the kernel's.
        int[] loaderFields = [0x210, 0x211, 0x224, 0x225];
        for (int offset = 0x1f1; offset < TestKernel.HeaderEnd; offset++)
        {
            if (!loaderFields.Contains(offset))
                Assert.True(kernel[offset] == bytes[offset], $"setup header byte 0x{offset:x}");
        }
        Assert.True(bytes[..0x1f1].IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(0xff, bytes[0x210]);
        Assert.Equal(0x81, bytes[0x211]); // LOADED_HIGH | CAN_USE_HEAP
        Assert.Equal(0xde00, BinaryPrimitives.ReadUInt16LittleEndian(bytes[0x224..]));
    }

    [Fact]
    public void Addresses_above_4_gib_go_to_the_ext_fields()
    {
        var zeroPage = new BootParams(BzImage.Parse(new TestKernel().Build()))
        {
            CommandLine = 0x1_2345_6000,
            AcpiRsdp = 0xe0000,
        };
        zeroPage.SetRamdisk(0x2_0000_1000, 0x3_0000_0200);
        ReadOnlySpan<byte> b = zeroPage.Bytes;
        Assert.Equal(0x2345_6000u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x228..]));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x0c8..]));
        Assert.Equal(0x1000u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x218..]));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x0c0..]));
        Assert.Equal(0x200u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x21c..]));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x0c4..]));
        Assert.Equal(0xe0000UL, BinaryPrimitives.ReadUInt64LittleEndian(b[0x070..]));
    }

    [Fact]
    public void E820_entries_are_packed_20_byte_records()
    {
        var zeroPage = new BootParams(BzImage.Parse(new TestKernel().Build()));
        E820Map map = E820Map.ForMemorySize(8UL << 30);
        zeroPage.SetE820(map.Entries);
        ReadOnlySpan<byte> b = zeroPage.Bytes;
        Assert.Equal(map.Entries.Count, b[0x1e8]);
        for (int i = 0; i < map.Entries.Count; i++)
        {
            ReadOnlySpan<byte> entry = b[(0x2d0 + 20 * i)..];
            Assert.Equal(map.Entries[i],
                new E820Entry(BinaryPrimitives.ReadUInt64LittleEndian(entry), BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]),
                    (E820Type)BinaryPrimitives.ReadUInt32LittleEndian(entry[16..])));
        }
    }

    [Fact]
    public void More_than_128_e820_entries_are_refused()
    {
        var zeroPage = new BootParams(BzImage.Parse(new TestKernel().Build()));
        E820Entry[] entries = [.. Enumerable.Range(0, 129).Select(i => new E820Entry((ulong)i << 20, 1 << 20, E820Type.Ram))];
        Assert.Contains("129 entries", Assert.Throws<LinuxBootException>(() => zeroPage.SetE820(entries)).Message);
    }
}
