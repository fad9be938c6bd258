// A bzImage kernel: the real-mode setup sectors with the setup header, then the protected-mode
// kernel (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header" and "Details of Header
// Fields"; struct setup_header in arch/x86/include/uapi/asm/bootparam.h). Only what the 64-bit
// boot protocol needs is read: the VMM never runs the real-mode code.
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace VSwitch.Vmm.Boot;

public sealed class BzImage
{
    /// <summary>Setup header field offsets in the image (and in the zero page: it is copied at the same offset).</summary>
    public static class Header
    {
        public const int Start = 0x1f1;
        public const int SetupSects = 0x1f1;
        public const int Syssize = 0x1f4;
        public const int BootFlag = 0x1fe;
        public const int Jump = 0x200;
        public const int Magic = 0x202;
        public const int Version = 0x206;
        public const int TypeOfLoader = 0x210;
        public const int LoadFlags = 0x211;
        public const int RamdiskImage = 0x218;
        public const int RamdiskSize = 0x21c;
        public const int HeapEndPtr = 0x224;
        public const int CmdLinePtr = 0x228;
        public const int InitrdAddrMax = 0x22c;
        public const int KernelAlignment = 0x230;
        public const int RelocatableKernel = 0x234;
        public const int XLoadFlags = 0x236;
        public const int CmdlineSize = 0x238;
        public const int PrefAddress = 0x258;
        public const int InitSize = 0x260;

        /// <summary>First byte past init_size: protocol 2.12's header reaches at least here.</summary>
        public const int MinimumEnd = 0x264;

        /// <summary>The header may not run into edd_mbr_sig_buffer of struct boot_params.</summary>
        public const int MaximumEnd = 0x290;
    }

    public const ushort BootFlagValue = 0xaa55;
    public const uint MagicValue = 0x5372_6448; // "HdrS" little-endian

    /// <summary>2.12: xloadflags, the first protocol with a defined 64-bit entry for bzImage.</summary>
    public const ushort MinimumProtocol = 0x020c;

    /// <summary>setup_sects 0 means 4 (boot.rst: "for backwards compatibility").</summary>
    private const int LegacySetupSects = 4;
    private const int SectorSize = 512;

    // The boot sector and setup code only (at most 128 KiB): the protected-mode kernel, the bulk
    // of the file, stays in the caller's buffer, so a parse costs no copy of it (the VMM's own
    // memory beside the guest's, docs/performance.md).
    private readonly byte[] _image;

    private BzImage(byte[] setup, int headerEnd, int protectedModeOffset, int protectedModeLength)
    {
        _image = setup;
        HeaderEnd = headerEnd;
        ProtectedModeOffset = protectedModeOffset;
        ProtectedModeLength = protectedModeLength;
    }

    /// <summary>The most a bzImage's boot sector and setup code take: setup_sects is one byte.</summary>
    public const int MaxSetupBytes = (255 + 1) * SectorSize;

    /// <summary>Parses and validates <paramref name="image"/> (a whole bzImage file's bytes; the setup part is copied).</summary>
    public static BzImage Parse(ReadOnlySpan<byte> image) => Parse(image[..Math.Min(image.Length, MaxSetupBytes)], image.Length);

    /// <summary>
    /// Parses and validates a bzImage of <paramref name="imageLength"/> bytes from its first bytes,
    /// <paramref name="head"/>: at least <see cref="MaxSetupBytes"/> of them, or the whole file.
    /// </summary>
    public static BzImage Parse(ReadOnlySpan<byte> head, long imageLength)
    {
        if (imageLength > int.MaxValue)
            Fail($"{imageLength} bytes is more than any bzImage");
        ReadOnlySpan<byte> image = head;
        if (image.Length < Header.MinimumEnd)
            Fail($"{imageLength} bytes is shorter than a setup header (0x{Header.MinimumEnd:x} bytes)");
        ushort bootFlag = BinaryPrimitives.ReadUInt16LittleEndian(image[Header.BootFlag..]);
        if (bootFlag != BootFlagValue)
            Fail($"boot_flag at 0x{Header.BootFlag:x} is 0x{bootFlag:x4}, not 0x{BootFlagValue:x4}; not a bzImage");
        if (BinaryPrimitives.ReadUInt32LittleEndian(image[Header.Magic..]) != MagicValue)
            Fail($"no 'HdrS' magic at 0x{Header.Magic:x}; not a bzImage");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(image[Header.Version..]);
        if (version < MinimumProtocol)
            Fail($"boot protocol {version >> 8}.{version & 0xff} at 0x{Header.Version:x} is older than 2.12 (no 64-bit entry)");

        // boot.rst: "the end of setup header can be calculated as 0x0202 + byte value at offset 0x0201".
        int headerEnd = Header.Magic + image[Header.Jump + 1];
        if (headerEnd < Header.MinimumEnd || headerEnd > Header.MaximumEnd)
            Fail($"setup header end 0x{headerEnd:x} (from the jump at 0x{Header.Jump:x}) is outside [0x{Header.MinimumEnd:x}, 0x{Header.MaximumEnd:x}]");

        ushort xloadflags = BinaryPrimitives.ReadUInt16LittleEndian(image[Header.XLoadFlags..]);
        if ((xloadflags & XLoadFlagsBits.Kernel64) == 0)
            Fail($"xloadflags 0x{xloadflags:x} at 0x{Header.XLoadFlags:x} lacks XLF_KERNEL_64; not a 64-bit kernel");

        int setupSects = image[Header.SetupSects] == 0 ? LegacySetupSects : image[Header.SetupSects];
        int protectedModeOffset = (setupSects + 1) * SectorSize;
        if (protectedModeOffset >= imageLength)
            Fail($"setup_sects {setupSects} puts the protected-mode kernel at 0x{protectedModeOffset:x}, past the end of the {imageLength}-byte image");
        ulong syssizeBytes = (ulong)BinaryPrimitives.ReadUInt32LittleEndian(image[Header.Syssize..]) * 16;
        if (syssizeBytes > (ulong)(imageLength - protectedModeOffset))
            Fail($"syssize says {syssizeBytes} bytes of protected-mode kernel, the image has {imageLength - protectedModeOffset}; truncated");

        var parsed = new BzImage(image[..protectedModeOffset].ToArray(), headerEnd, protectedModeOffset, (int)imageLength - protectedModeOffset);
        if (parsed.InitSize < parsed.ProtectedModeLength)
            Fail($"init_size {parsed.InitSize} at 0x{Header.InitSize:x} is smaller than the {parsed.ProtectedModeLength}-byte protected-mode kernel");
        if (parsed.Relocatable && (parsed.KernelAlignment == 0 || (parsed.KernelAlignment & (parsed.KernelAlignment - 1)) != 0))
            Fail($"kernel_alignment 0x{parsed.KernelAlignment:x} at 0x{Header.KernelAlignment:x} is not a power of two");
        return parsed;
    }

    [DoesNotReturn]
    private static void Fail(string what) => throw new LinuxBootException($"kernel image: {what}");

    /// <summary>protocol version, e.g. 0x020f for 2.15.</summary>
    public ushort ProtocolVersion => ReadUInt16(Header.Version);

    /// <summary>Real-mode setup sectors after the boot sector (0 in the file is reported as 4).</summary>
    public int SetupSects => ProtectedModeOffset / SectorSize - 1;

    /// <summary>File offset of the protected-mode kernel: (setup_sects + 1) * 512.</summary>
    public int ProtectedModeOffset { get; }

    /// <summary>First byte past the setup header (0x202 + the jump's offset byte).</summary>
    public int HeaderEnd { get; }

    /// <summary>Length of the protected-mode kernel, the rest of the file from <see cref="ProtectedModeOffset"/>: what is loaded at the kernel's load address.</summary>
    public int ProtectedModeLength { get; }

    /// <summary>The setup header, 0x1f1 up to <see cref="HeaderEnd"/>, to copy into the zero page.</summary>
    public ReadOnlySpan<byte> SetupHeader => _image.AsSpan(Header.Start, HeaderEnd - Header.Start);

    public byte LoadFlags => _image[Header.LoadFlags];
    public ushort XLoadFlags => ReadUInt16(Header.XLoadFlags);

    /// <summary>Where the kernel wants to run (a non-relocatable kernel moves itself there).</summary>
    public ulong PrefAddress => BinaryPrimitives.ReadUInt64LittleEndian(_image.AsSpan(Header.PrefAddress));

    /// <summary>Bytes of memory the kernel needs from its load address until it sets up its own memory map.</summary>
    public uint InitSize => ReadUInt32(Header.InitSize);

    /// <summary>Longest command line, without the terminating NUL.</summary>
    public uint CmdlineSize => ReadUInt32(Header.CmdlineSize);

    /// <summary>Highest address the initramfs may occupy (inclusive).</summary>
    public uint InitrdAddrMax => ReadUInt32(Header.InitrdAddrMax);

    public uint KernelAlignment => ReadUInt32(Header.KernelAlignment);
    public bool Relocatable => _image[Header.RelocatableKernel] != 0;

    private ushort ReadUInt16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(_image.AsSpan(offset));
    private uint ReadUInt32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(_image.AsSpan(offset));
}

/// <summary>setup_header.loadflags bits (boot.rst, "loadflags").</summary>
public static class LoadFlagsBits
{
    public const byte LoadedHigh = 0x01;
    public const byte KaslrFlag = 0x02;
    public const byte CanUseHeap = 0x80;
}

/// <summary>setup_header.xloadflags bits (boot.rst, "xloadflags").</summary>
public static class XLoadFlagsBits
{
    public const ushort Kernel64 = 1 << 0;
    public const ushort CanBeLoadedAbove4G = 1 << 1;
}
