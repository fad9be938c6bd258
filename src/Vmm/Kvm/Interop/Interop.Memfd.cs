// memfd_create(2) + ftruncate(2): anonymous memory with a file descriptor, so guest memory can
// later be handed to vswitchd over vhost-user (SCM_RIGHTS) and mapped there too.
using System.Text;
using Tmds.Linux;

namespace VSwitch.Vmm.Kvm.Interop;

internal static unsafe partial class Interop
{
    // MFD_HUGETLB, include/uapi/linux/memfd.h: back the file with pages of the default huge page
    // size from the hugetlbfs pool (memfd_create(2)); ftruncate must then use a multiple of it.
    private const uint MfdHugetlb = 0x0004;

    /// <summary>A zero-filled memfd of <paramref name="size"/> bytes, or null and the errno.</summary>
    internal static FileDescriptorHandle? MemfdCreate(string name, ulong size, out int errno, bool hugePages = false)
    {
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(name) + 1];
        Encoding.UTF8.GetBytes(name, bytes);
        int fd;
        // SAFETY: bytes is pinned for the call and NUL-terminated (zero-initialised, one longer).
        fixed (byte* p = bytes)
        {
            fd = LibC.memfd_create(p, (uint)LibC.MFD_CLOEXEC | (hugePages ? MfdHugetlb : 0));
        }
        if (fd < 0)
        {
            errno = LastErrno();
            return null;
        }
        var handle = new FileDescriptorHandle(fd);
        if (LibC.ftruncate(fd, (long)size) != 0)
        {
            errno = LastErrno();
            handle.Dispose();
            return null;
        }
        errno = 0;
        return handle;
    }
}
