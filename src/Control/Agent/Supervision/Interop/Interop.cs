// The supervisor's native boundary: the only files of src/Control/Agent/Supervision that call
// libc. Nothing here uses pointers: every call is a LibraryImport whose arguments the source
// generator marshals (strings as UTF-8, arrays and blittable structs pinned for the call), and
// every descriptor is a SafeHandle. Tmds.LibC, which src/Vmm uses, is not a dependency of the
// agent, and these few glibc calls do not justify adding it.
//
// errno: imports that set it are declared with SetLastError, so the runtime saves it right after
// the call; it is read with Marshal.GetLastPInvokeError() before anything else can overwrite it.
using System.Runtime.InteropServices;

namespace VSwitch.Control.Agent.Supervision.Interop;

internal static partial class Interop
{
    private const string Libc = "libc";

    internal const int ENOENT = 2;
    internal const int ESRCH = 3;
    internal const int EINTR = 4;
    internal const int ECHILD = 10;

    /// <summary>errno of the last call on this thread; read it immediately.</summary>
    internal static int LastErrno() => Marshal.GetLastPInvokeError();

    /// <summary>"No such process (errno 3)": strerror's text and the number, for messages.</summary>
    internal static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int close(int fd);
}
