// A shared mmap(2) of a file descriptor (guest memory over a memfd, a vCPU's kvm_run block),
// unmapped exactly once by SafeHandle. This is where a host pointer becomes a Span: every Span
// handed out is checked against the mapping's own length, whatever the caller already checked.
using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VSwitch.Vmm.Kvm.Interop;

internal sealed unsafe class MemoryMapping : SafeHandle
{
    private MemoryMapping(nint address, ulong length) : base(invalidHandleValue: 0, ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    public ulong Length { get; }

    public override bool IsInvalid => handle == 0;

    /// <summary>The host virtual address, for KVM_SET_USER_MEMORY_REGION; never dereferenced outside this class.</summary>
    public ulong Address => (ulong)handle;

    /// <summary>mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0), or null and the errno.</summary>
    public static MemoryMapping? MapShared(SafeHandle fd, ulong length, out int errno)
    {
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            void* address = LibC.mmap(null, (size_t)length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED,
                (int)fd.DangerousGetHandle(), 0);
            if (address == LibC.MAP_FAILED)
            {
                errno = Interop.LastErrno();
                return null;
            }
            errno = 0;
            return new MemoryMapping((nint)address, length);
        }
        finally
        {
            if (added)
                fd.DangerousRelease();
        }
    }

    /// <summary>
    /// <paramref name="length"/> bytes at <paramref name="offset"/>. Valid until Dispose; callers
    /// own that lifetime (a GuestMemory or KvmVcpu outlives the spans it returns).
    /// </summary>
    public Span<byte> GetSpan(ulong offset, int length)
    {
        if (length < 0 || offset > Length || (ulong)length > Length - offset)
            ThrowOutOfRange(offset, length);
        ObjectDisposedException.ThrowIf(IsClosed, this);
        // SAFETY: [offset, offset + length) lies inside [0, Length), checked above without
        // overflow, and the mapping is open (not yet munmap'ed).
        return new Span<byte>((byte*)handle + offset, length);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowOutOfRange(ulong offset, int length) =>
        throw new ArgumentOutOfRangeException(nameof(offset),
            $"{length} bytes at offset {offset} do not fit a mapping of {Length} bytes");

    protected override bool ReleaseHandle() => LibC.munmap((void*)handle, (size_t)Length) == 0;
}
