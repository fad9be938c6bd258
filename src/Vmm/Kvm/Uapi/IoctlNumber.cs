// The ioctl request encoding of include/uapi/asm-generic/ioctl.h (x86-64 uses the generic one):
//   bits 0-7 nr, 8-15 type, 16-29 argument size, 30-31 direction (_IOC_NONE 0, _IOC_WRITE 1,
//   _IOC_READ 2). "Write" and "read" are seen from user space: _IOW passes data to the kernel.
namespace VSwitch.Vmm.Kvm.Uapi;

/// <summary>The _IO/_IOR/_IOW/_IOWR macros, so request numbers follow from the struct sizes.</summary>
public static class IoctlNumber
{
    private const int NrShift = 0;
    private const int TypeShift = 8;
    private const int SizeShift = 16;
    private const int DirectionShift = 30;
    private const uint SizeMask = (1u << 14) - 1;

    private const uint None = 0;
    private const uint Write = 1;
    private const uint Read = 2;

    /// <summary>_IOC(dir, type, nr, size).</summary>
    public static uint Encode(uint direction, uint type, uint nr, int size)
    {
        // _IOC_TYPECHECK in the kernel refuses sizes that do not fit the 14-bit field at compile
        // time; here the same mistake would silently produce a different request.
        if ((uint)size > SizeMask)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"an ioctl argument size must be in 0..{SizeMask}");
        if (type > 0xFF || nr > 0xFF)
            throw new ArgumentOutOfRangeException(nameof(nr), $"type and nr must be in 0..255 (type {type}, nr {nr})");
        return (direction << DirectionShift) | ((uint)size << SizeShift) | (type << TypeShift) | (nr << NrShift);
    }

    /// <summary>_IO(type, nr): no argument struct.</summary>
    public static uint Io(uint type, uint nr) => Encode(None, type, nr, 0);

    /// <summary>_IOR(type, nr, T): the kernel fills a T.</summary>
    public static uint IoRead(uint type, uint nr, int size) => Encode(Read, type, nr, size);

    /// <summary>_IOW(type, nr, T): the kernel reads a T.</summary>
    public static uint IoWrite(uint type, uint nr, int size) => Encode(Write, type, nr, size);

    /// <summary>_IOWR(type, nr, T): both.</summary>
    public static uint IoReadWrite(uint type, uint nr, int size) => Encode(Read | Write, type, nr, size);
}
