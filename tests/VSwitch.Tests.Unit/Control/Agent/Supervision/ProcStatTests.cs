// /proc/PID/stat parsing (proc_pid_stat(5)): the fields after the command are found after its
// last ')', since a command may hold spaces and parentheses.
using VSwitch.Control.Agent.Supervision;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Supervision;

public sealed class ProcStatTests
{
    /// <summary>Fields 3 to 22 (state, ppid, pgrp, session, ..., starttime) after "PID (COMMAND) ", as the kernel writes them; starttime 987654321.</summary>
    private const string Tail = "S 1 4321 4321 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 987654321 8736768 195 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    [Fact]
    public void A_plain_line_gives_pid_command_state_session_and_start_time() =>
        Assert.Equal(new ProcStat(4321, "sleep", 'S', 4321, 987654321), ProcStat.Parse("4321 (sleep) " + Tail));

    [Theory]
    [InlineData("a b")]
    [InlineData("x) S 1 2 3 (y")]
    [InlineData(") ) (")]
    [InlineData("(sd-pam)")]
    [InlineData("")]
    public void A_command_with_spaces_and_parentheses_does_not_shift_the_fields(string command)
    {
        ProcStat stat = ProcStat.Parse($"77 ({command}) " + Tail);
        Assert.Equal(new ProcStat(77, command, 'S', 4321, 987654321), stat);
    }

    [Theory]
    [InlineData("")]
    [InlineData("4321 sleep S 1")]
    [InlineData("4321 (sleep) S 1 4321")]
    [InlineData("x (sleep) " + Tail)]
    [InlineData("4321 (sleep) S 1 4321 4321 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 -5 8736768")]
    public void Anything_else_is_refused_with_the_line_in_the_message(string line)
    {
        FormatException e = Assert.Throws<FormatException>(() => ProcStat.Parse(line));
        Assert.Contains("/proc/PID/stat", e.Message);
    }

    [Fact]
    public void This_process_is_read_as_itself_and_a_missing_pid_as_nothing()
    {
        ProcStat self = ProcStat.TryRead(Environment.ProcessId)!.Value;
        Assert.Equal(Environment.ProcessId, self.Pid);
        Assert.True(self.StartTime > 0);
        Assert.Equal(self, ProcStat.TryRead(Environment.ProcessId));
        Assert.Null(ProcStat.TryRead(int.MaxValue)); // above any pid_max (at most 2^22)
    }
}
