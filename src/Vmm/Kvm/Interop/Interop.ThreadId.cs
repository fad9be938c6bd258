// gettid(2): the kernel's id of the calling thread, which names its folder under /proc/self/task
// (where the host scheduler's view of a vCPU thread is, Machine/SchedStat.cs). .NET has no API
// for it; glibc has exported gettid since 2.30.
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Interop;

internal static partial class Interop
{
    [LibraryImport("libc", EntryPoint = "gettid")]
    [SuppressGCTransition] // one syscall that cannot block or fail
    internal static partial int ThreadId();
}
