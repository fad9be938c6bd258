// fdatasync(2) and fallocate(2) on a volume's backing file, which .NET's file APIs do not expose:
// a virtio-blk FLUSH must not complete before its data is on stable storage, and DISCARD and
// WRITE_ZEROES free or zero a range without writing it.
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Tmds.Linux;

namespace VSwitch.Vmm.Kvm.Interop;

internal static partial class Interop
{
    // include/uapi/linux/falloc.h
    private const int FallocKeepSize = 0x01;
    private const int FallocPunchHole = 0x02;
    private const int FallocZeroRange = 0x10;

    /// <summary>fdatasync(2); 0, or the errno.</summary>
    internal static int DataSync(SafeFileHandle file)
    {
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            return LibC.fdatasync((int)file.DangerousGetHandle()) == 0 ? 0 : LastErrno();
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    /// <summary>
    /// Makes the range read as zeros without changing the file's size: punched out (its space
    /// freed) when <paramref name="punchHole"/>, else zeroed in place. 0, or the errno
    /// (EOPNOTSUPP where the file system cannot).
    /// </summary>
    internal static int ZeroRange(SafeFileHandle file, long offset, long length, bool punchHole)
    {
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            int mode = FallocKeepSize | (punchHole ? FallocPunchHole : FallocZeroRange);
            return Fallocate((int)file.DangerousGetHandle(), mode, offset, length) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(int fd, int mode, long offset, long length);
}
