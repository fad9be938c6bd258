// Errors of the KVM layer. Setup failures (cannot open /dev/kvm, an ioctl refused) are fatal for
// a VMM and say which call failed and why; guest-caused conditions are not exceptions but exits.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm;

public sealed class KvmException : Exception
{
    public KvmException(string message, int errno = 0) : base(message) => Errno = errno;

    /// <summary>The errno behind the failure, 0 when there was none.</summary>
    public int Errno { get; }
}

/// <summary>Throws out of line so the callers (ioctl wrappers on the vCPU path) stay small.</summary>
internal static class KvmThrow
{
    [DoesNotReturn]
    public static void Ioctl(string request, int errno) => throw IoctlException(request, errno);

    [DoesNotReturn]
    public static void Failure(string message) => throw new KvmException(message);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static KvmException IoctlException(string request, int errno) =>
        new($"{request} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);

    /// <summary>Returns an ioctl result, or throws for -errno.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Check(int result, string request)
    {
        if (result < 0)
            Ioctl(request, -result);
        return result;
    }
}
