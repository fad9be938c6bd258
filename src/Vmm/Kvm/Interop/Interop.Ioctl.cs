// ioctl(2) on KVM fds. Each helper returns the ioctl's non-negative result, or -errno.
// The handle is AddRef'ed for the call, so a concurrent Dispose cannot close (and the kernel
// cannot reuse) the fd number while the ioctl runs.
using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VSwitch.Vmm.Kvm.Interop;

internal static unsafe partial class Interop
{
    /// <summary>An ioctl whose argument is a plain integer (or absent: pass 0).</summary>
    internal static int Ioctl(SafeHandle fd, uint request, ulong argument)
    {
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            // SAFETY: the request takes its argument by value; the kernel does not dereference it.
            int result = LibC.ioctl((int)fd.DangerousGetHandle(), unchecked((int)request), (void*)argument);
            return result < 0 ? -LastErrno() : result;
        }
        finally
        {
            if (added)
                fd.DangerousRelease();
        }
    }

    /// <summary>An ioctl that reads and/or writes one struct T.</summary>
    internal static int Ioctl<T>(SafeHandle fd, uint request, ref T argument) where T : unmanaged
    {
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            // SAFETY: argument is pinned for the call and is exactly the T that the request's
            // size field encodes (KvmIoctls builds each request from sizeof(T)).
            fixed (T* p = &argument)
            {
                int result = LibC.ioctl((int)fd.DangerousGetHandle(), unchecked((int)request), p);
                return result < 0 ? -LastErrno() : result;
            }
        }
        finally
        {
            if (added)
                fd.DangerousRelease();
        }
    }

    /// <summary>An ioctl whose argument is a header plus a variable-length array (kvm_cpuid2).</summary>
    internal static int Ioctl(SafeHandle fd, uint request, Span<byte> argument)
    {
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            // SAFETY: the buffer is pinned for the call; the caller sized it for the count it
            // wrote into the header, which is all the kernel reads or writes.
            fixed (byte* p = argument)
            {
                int result = LibC.ioctl((int)fd.DangerousGetHandle(), unchecked((int)request), p);
                return result < 0 ? -LastErrno() : result;
            }
        }
        finally
        {
            if (added)
                fd.DangerousRelease();
        }
    }
}
