// An owned file descriptor (open(2), ioctl(2)-created KVM fds, memfd_create(2)); closed exactly
// once by SafeHandle, which also keeps it open while a call that uses it is in flight.
using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VSwitch.Vmm.Kvm.Interop;

internal sealed class FileDescriptorHandle : SafeHandle
{
    public FileDescriptorHandle(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle.ToInt64() < 0;

    protected override bool ReleaseHandle()
    {
        // close(2) releases the fd even when it reports EINTR on Linux: never retry.
        LibC.close((int)handle.ToInt64());
        return true;
    }
}
