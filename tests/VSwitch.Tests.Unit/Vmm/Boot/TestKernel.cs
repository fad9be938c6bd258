// A synthetic bzImage: a setup header with the fields the loader reads (values like those of a
// Debian 6.1 amd64 kernel, whose init_size is scaled down), then a recognisable payload as the
// protected-mode kernel.
using System.Buffers.Binary;

namespace VSwitch.Tests.Unit.Vmm.Boot;

internal sealed record TestKernel
{
    public byte SetupSects { get; init; } = 4;
    public ushort Version { get; init; } = 0x020f;
    public ushort XLoadFlags { get; init; } = 0x7f;
    public ulong PrefAddress { get; init; } = 0x100_0000;
    public uint InitSize { get; init; } = 0x40_0000;
    public uint CmdlineSize { get; init; } = 2047;
    public uint InitrdAddrMax { get; init; } = 0x7fff_ffff;
    public uint KernelAlignment { get; init; } = 0x20_0000;
    public byte Relocatable { get; init; } = 1;
    public int PayloadLength { get; init; } = 8192;

    /// <summary>Header end 0x26c (protocol 2.15): 0x202 + the jump's offset byte.</summary>
    public const int HeaderEnd = 0x26c;

    public int SetupLength => ((SetupSects == 0 ? 4 : SetupSects) + 1) * 512;

    public byte[] Build()
    {
        var image = new byte[SetupLength + PayloadLength];
        Span<byte> s = image;
        s[0x1f1] = SetupSects;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x1f4..], (uint)(PayloadLength / 16));
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1fe..], 0xaa55);
        s[0x200] = 0xeb;
        s[0x201] = HeaderEnd - 0x202;
        "HdrS"u8.CopyTo(s[0x202..]);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x206..], Version);
        s[0x211] = 0x01; // LOADED_HIGH, as built
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x22c..], InitrdAddrMax);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x230..], KernelAlignment);
        s[0x234] = Relocatable;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x236..], XLoadFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x238..], CmdlineSize);
        BinaryPrimitives.WriteUInt64LittleEndian(s[0x258..], PrefAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x260..], InitSize);
        for (int i = 0; i < PayloadLength; i++)
            image[SetupLength + i] = (byte)(i * 7 + 3);
        return image;
    }
}
