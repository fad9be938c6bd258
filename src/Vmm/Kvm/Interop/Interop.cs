// The native boundary of the VMM's KVM layer: the only folder of src/Vmm with unsafe code (a
// unit test holds the rest of the project to that). libc comes from Tmds.LibC (open, ioctl,
// mmap, memfd_create, signals); LibraryImport only for what it lacks (pthread_self, gettid).
//
// errno: Tmds.LibC imports with SetLastError, so the runtime saves errno right after each call;
// it is read with Marshal.GetLastPInvokeError() before anything else can make a P/Invoke and
// overwrite it (even string formatting can, through globalization).
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Interop;

internal static partial class Interop
{
    /// <summary>errno of the last Tmds.LibC call on this thread; read it immediately.</summary>
    internal static int LastErrno() => Marshal.GetLastPInvokeError();
}
