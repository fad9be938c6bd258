// /proc/<pid>/schedstat as the steal metric reads it (Documentation/scheduler/sched-stats.rst):
// the second of three numbers, in nanoseconds. Anything else is no figure, never an exception:
// the metrics reply goes on without it.
using VSwitch.Vmm.Kvm.Interop;
using VSwitch.Vmm.Machine;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Machine;

public sealed class SchedStatTests
{
    [Theory]
    [InlineData("21479712009 17891462708 11386\n", 17_891_462_708)]
    [InlineData("0 0 0", 0)]
    [InlineData("  5   250   3  ", 250)]
    [InlineData("5 18446744073709551615 3 7", 18_446_744_073_709_551_615)] // a field more; the largest run delay
    public void The_run_delay_is_the_second_field_in_nanoseconds(string line, ulong nanoseconds) =>
        Assert.Equal(TimeSpan.FromTicks((long)(nanoseconds / 100)), SchedStat.ParseRunDelay(line));

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("21479712009 17891462708")]
    [InlineData("21479712009 -5 11386")]
    [InlineData("21479712009 1.5 11386")]
    [InlineData("21479712009 0x10 11386")]
    [InlineData("21479712009 18446744073709551616 11386")] // 2^64
    [InlineData("a b c")]
    [InlineData("1 2 x")]
    public void A_malformed_line_is_no_figure(string line) => Assert.Null(SchedStat.ParseRunDelay(line));

    [Fact]
    public void A_thread_that_is_not_there_is_no_figure() => Assert.Null(SchedStat.RunDelay(0));

    [Fact]
    public void A_thread_reads_its_own_figure_where_the_kernel_keeps_one()
    {
        int tid = Interop.ThreadId();
        Assert.Equal(File.Exists($"/proc/self/task/{tid}/schedstat"), SchedStat.RunDelay(tid) is not null);
    }
}
