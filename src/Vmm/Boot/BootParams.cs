// The zero page: struct boot_params of arch/x86/include/uapi/asm/bootparam.h, 4096 bytes, filled
// as Documentation/arch/x86/boot.rst asks of a 64-bit boot loader ("64-bit Boot Protocol": "the
// boot loader ... fill[s] in struct boot_params ... with the setup header from the kernel image
// at offset 0x1f1"). Offsets are the kernel's (pinned by BootParamsTests against bootparam.h).
using System.Buffers.Binary;

namespace VSwitch.Vmm.Boot;

public sealed class BootParams
{
    public const int Size = 4096;

    public const int AcpiRsdpAddr = 0x070;
    public const int ExtRamdiskImage = 0x0c0;
    public const int ExtRamdiskSize = 0x0c4;
    public const int ExtCmdLinePtr = 0x0c8;
    public const int E820EntriesOffset = 0x1e8;
    public const int E820Table = 0x2d0;
    public const int E820EntrySize = 20;

    /// <summary>type_of_loader 0xff: "undefined" boot loader (boot.rst, "type_of_loader").</summary>
    public const byte UndefinedLoader = 0xff;

    /// <summary>boot.rst: heap_end_ptr = heap_end - 0x200 with the heap ending at 0xe000.</summary>
    public const ushort HeapEndPtr = 0xe000 - 0x200;

    private readonly byte[] _bytes = new byte[Size];

    /// <summary>A zero page holding <paramref name="kernel"/>'s setup header and the loader's fields.</summary>
    public BootParams(BzImage kernel)
    {
        kernel.SetupHeader.CopyTo(_bytes.AsSpan(BzImage.Header.Start));
        _bytes[BzImage.Header.TypeOfLoader] = UndefinedLoader;
        _bytes[BzImage.Header.LoadFlags] |= LoadFlagsBits.LoadedHigh | LoadFlagsBits.CanUseHeap;
        WriteUInt16(BzImage.Header.HeapEndPtr, HeapEndPtr);
    }

    /// <summary>The 4096 bytes to copy to <see cref="MemoryLayout.ZeroPage"/>.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>cmd_line_ptr and ext_cmd_line_ptr (the high 32 bits).</summary>
    public ulong CommandLine
    {
        set => WriteSplit(BzImage.Header.CmdLinePtr, ExtCmdLinePtr, value);
    }

    /// <summary>ramdisk_image/ext_ramdisk_image and ramdisk_size/ext_ramdisk_size.</summary>
    public void SetRamdisk(ulong address, ulong size)
    {
        WriteSplit(BzImage.Header.RamdiskImage, ExtRamdiskImage, address);
        WriteSplit(BzImage.Header.RamdiskSize, ExtRamdiskSize, size);
    }

    /// <summary>acpi_rsdp_addr (protocol 2.14+ kernels use it instead of scanning for the RSDP).</summary>
    public ulong AcpiRsdp
    {
        set => BinaryPrimitives.WriteUInt64LittleEndian(_bytes.AsSpan(AcpiRsdpAddr), value);
    }

    /// <summary>e820_entries and e820_table.</summary>
    public void SetE820(IReadOnlyList<E820Entry> entries)
    {
        if (entries.Count > E820Map.MaxEntries)
            throw new LinuxBootException($"e820 map: {entries.Count} entries, the zero page holds {E820Map.MaxEntries}");
        _bytes[E820EntriesOffset] = (byte)entries.Count;
        for (int i = 0; i < entries.Count; i++)
        {
            Span<byte> entry = _bytes.AsSpan(E820Table + i * E820EntrySize, E820EntrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(entry, entries[i].Address);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], entries[i].Size);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[16..], (uint)entries[i].Type);
        }
    }

    private void WriteUInt16(int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(offset), value);

    private void WriteSplit(int lowOffset, int highOffset, ulong value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(lowOffset), (uint)value);
        BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(highOffset), (uint)(value >> 32));
    }
}
