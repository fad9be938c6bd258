// The layouts the supervisor's libc calls rely on (Linux, 64-bit): siginfo_t as waitid fills it
// for a child, and struct pollfd.
using System.Runtime.InteropServices;
using Xunit;
using static VSwitch.Control.Agent.Supervision.Interop.Interop;

namespace VSwitch.Tests.Unit.Control.Agent.Supervision;

public sealed class InteropLayoutTests
{
    [Fact]
    public void Siginfo_is_128_bytes_with_the_child_fields_where_the_kernel_writes_them()
    {
        Assert.Equal(128, Marshal.SizeOf<ChildSigInfo>());
        Assert.Equal(0, (int)Marshal.OffsetOf<ChildSigInfo>(nameof(ChildSigInfo.Signo)));
        Assert.Equal(8, (int)Marshal.OffsetOf<ChildSigInfo>(nameof(ChildSigInfo.Code)));
        Assert.Equal(16, (int)Marshal.OffsetOf<ChildSigInfo>(nameof(ChildSigInfo.Pid)));
        Assert.Equal(24, (int)Marshal.OffsetOf<ChildSigInfo>(nameof(ChildSigInfo.Status)));
    }

    [Fact]
    public void Pollfd_is_an_int_and_two_shorts()
    {
        Assert.Equal(8, Marshal.SizeOf<PollFd>());
        Assert.Equal(4, (int)Marshal.OffsetOf<PollFd>(nameof(PollFd.Events)));
        Assert.Equal(6, (int)Marshal.OffsetOf<PollFd>(nameof(PollFd.Revents)));
    }
}
