// open(2) for character devices (/dev/kvm).
using System.Text;
using Tmds.Linux;

namespace VSwitch.Vmm.Kvm.Interop;

internal static unsafe partial class Interop
{
    /// <summary>open(path, O_RDWR | O_CLOEXEC); returns the handle, or null and the errno.</summary>
    internal static FileDescriptorHandle? OpenReadWrite(string path, out int errno)
    {
        int length = Encoding.UTF8.GetByteCount(path);
        byte[] bytes = new byte[length + 1];
        Encoding.UTF8.GetBytes(path, bytes);
        int fd;
        // SAFETY: bytes is pinned for the call and NUL-terminated (the array is one longer than
        // the encoded path and zero-initialised).
        fixed (byte* p = bytes)
        {
            fd = LibC.open(p, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        }
        errno = fd < 0 ? LastErrno() : 0;
        return fd < 0 ? null : new FileDescriptorHandle(fd);
    }
}
