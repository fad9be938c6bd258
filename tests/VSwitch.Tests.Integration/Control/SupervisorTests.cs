// The agent's process supervisor (docs/agent.md, "Supervision") on real processes: /bin/sh
// scripts that append their pid (or a timestamp) to a file each time they start, so the test
// counts starts from the children's own side rather than trusting the supervisor's count; kill -9
// from outside; a second supervisor on the same state directory, as an agent restarted after a
// kill -9 would be; and an unrelated process behind a recorded pid. Every wait polls a condition
// with a deadline.
using System.Diagnostics;
using VSwitch.Control.Agent.Supervision;
using Xunit;

namespace VSwitch.Tests.Integration.Control;

public sealed class SupervisorTests : IAsyncDisposable
{
    /// <summary>
    /// What a 2-core machine running other tests may add to any timing: a fork and exec of sh,
    /// its own fork of date, and the supervision loop's wake-up can each be delayed by hundreds
    /// of milliseconds when both cores are busy. Lower bounds are exact (the supervisor never
    /// restarts before its delay, and every delay adds to it); upper bounds allow this much.
    /// </summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(1.5);

    /// <summary>How long a condition that should come true promptly may take before the test fails.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(1);

    private readonly string _folder = Directory.CreateTempSubdirectory("vswitch-supervisor-it-").FullName;
    private readonly List<ProcessSupervisor> _supervisors = [];

    private SupervisorOptions Options => new(Path.Combine(_folder, "state"), Path.Combine(_folder, "logs")) { StopTimeout = StopTimeout };

    private ProcessSupervisor Supervise(params ChildSpec[] desired) => Supervise(Options, desired);

    private ProcessSupervisor Supervise(SupervisorOptions options, params ChildSpec[] desired)
    {
        ProcessSupervisor supervisor = ProcessSupervisor.Start(options, desired);
        _supervisors.Add(supervisor);
        return supervisor;
    }

    private string StartsFile(string name) => Path.Combine(_folder, name + ".starts");

    /// <summary>One line per start of <paramref name="name"/>, as the child wrote it.</summary>
    private string[] Starts(string name) => File.Exists(StartsFile(name)) ? File.ReadAllLines(StartsFile(name)) : [];

    private ChildSpec Script(string name, string script) =>
        new(name, "/bin/sh", ["-c", script], new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }, _folder);

    /// <summary>
    /// A child that sets <paramref name="trap"/> (if any), appends its pid to its starts file,
    /// then does <paramref name="then"/> (by default: sleeps, as the same process). Once its pid
    /// is in the file, its trap is in place.
    /// </summary>
    private ChildSpec Counted(string name, string then = "exec sleep 600", string trap = "") =>
        Script(name, $"{trap}echo $$ >> {StartsFile(name)}; {then}");

    /// <summary>A child that notes each SIGTERM in its starts file and goes on running: only SIGKILL ends it.</summary>
    private ChildSpec IgnoringSigterm(string name) =>
        Counted(name, "while :; do sleep 0.1; done", trap: $"trap 'echo TERM >> {StartsFile(name)}' TERM; ");

    private static ChildStatus? StatusOf(ProcessSupervisor supervisor, string name) =>
        supervisor.Status().SingleOrDefault(s => s.Name == name);

    /// <summary>Polls <paramref name="probe"/> until it gives a value, for at most <paramref name="within"/>.</summary>
    private static async Task<T> EventuallyAsync<T>(Func<T?> probe, string what, TimeSpan? within = null) where T : class
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (probe() is { } value)
                return value;
            if (deadline.Elapsed > (within ?? Patience))
                throw new TimeoutException($"not within {(within ?? Patience).TotalSeconds} s: {what}");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    private static Task EventuallyAsync(Func<bool> condition, string what, TimeSpan? within = null) =>
        EventuallyAsync(() => condition() ? "" : null, what, within);

    /// <summary>Waits until <paramref name="name"/> runs as the child that wrote the <paramref name="start"/>-th line of its starts file.</summary>
    private async Task<ChildStatus> StartedAsync(ProcessSupervisor supervisor, string name, int start = 1)
    {
        ChildStatus status = await RunningAsync(supervisor, name, s => s.StartCount == start);
        await EventuallyAsync(() => Starts(name).Length == start, $"{name}'s start {start} wrote its pid");
        Assert.Equal(status.Pid.ToString(), Starts(name)[^1]);
        return status;
    }

    private static Task<ChildStatus> RunningAsync(ProcessSupervisor supervisor, string name, Func<ChildStatus, bool>? also = null) =>
        EventuallyAsync(() => StatusOf(supervisor, name) is { State: ChildState.Running, Pid: not null } s && (also?.Invoke(s) ?? true) ? s : null, $"{name} running");

    /// <summary>Whether a process with that pid exists and has not exited (a zombie has).</summary>
    private static bool Alive(int pid) => ProcStat.TryRead(pid) is { State: not 'Z' };

    private static void KillNine(int pid) => Process.GetProcessById(pid).Kill();

    [Fact]
    public async Task A_desired_child_is_started_in_its_own_session_with_its_environment_directory_and_log()
    {
        var spec = new ChildSpec("web", "/bin/sh", ["-c", $"echo $$ >> {StartsFile("web")}; echo \"greeting=$GREETING home=$HOME cwd=$(pwd)\"; echo oops >&2; exec sleep 600"],
            new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["GREETING"] = "hello there" }, _folder);
        ProcessSupervisor supervisor = Supervise(spec);

        ChildStatus web = await StartedAsync(supervisor, "web");
        Assert.Equal((1, false), (web.StartCount, web.Adopted));

        // Its own session and process group: signals to the agent's group never reach it.
        ProcStat stat = ProcStat.TryRead(web.Pid!.Value)!.Value;
        Assert.Equal(web.Pid, stat.Session);
        Assert.NotEqual(ProcStat.TryRead(Environment.ProcessId)!.Value.Session, stat.Session);

        string log = Path.Combine(_folder, "logs", "web.log");
        await EventuallyAsync(() => File.Exists(log) && File.ReadAllText(log).Contains("oops"), "stdout and stderr in the log");
        Assert.Equal($"greeting=hello there home= cwd={_folder}\noops\n", File.ReadAllText(log));
        Assert.True(File.Exists(Path.Combine(_folder, "state", "web.json")));
    }

    [Fact]
    public async Task A_child_killed_with_sigkill_is_restarted_after_the_first_backoff()
    {
        ProcessSupervisor supervisor = Supervise(Counted("web"));
        int first = (await StartedAsync(supervisor, "web")).Pid!.Value;

        var sinceKill = Stopwatch.StartNew();
        KillNine(first);
        ChildStatus again = await RunningAsync(supervisor, "web", s => s.Pid != first);
        TimeSpan took = sinceKill.Elapsed;

        Assert.Equal(2, again.StartCount);
        Assert.Equal(new ExitStatus(null, 9), again.LastExit);
        Assert.InRange(took, RestartBackoff.Default.First, RestartBackoff.Default.First + Slack);
        await EventuallyAsync(() => Starts("web").Length == 2, "the second start wrote its pid");
        Assert.Equal([first.ToString(), again.Pid.ToString()!], Starts("web"));
    }

    [Fact]
    public async Task A_child_that_keeps_dying_waits_longer_before_each_restart()
    {
        // Each start appends its time (ns since the epoch, from date) and fails at once.
        ChildSpec failing = Script("crash", $"date +%s%N >> {StartsFile("crash")}; exit 3");
        ProcessSupervisor supervisor = Supervise(failing);

        // Starts 1..4: after failures 1, 2 and 3 the delays are 0.5 s, 1 s and 2 s.
        await EventuallyAsync(() => Starts("crash").Length >= 4, "four starts", TimeSpan.FromSeconds(3.5) + 4 * Slack);
        long[] nanoseconds = [.. Starts("crash").Take(4).Select(long.Parse)];
        TimeSpan[] intervals = [.. nanoseconds.Zip(nanoseconds.Skip(1), (a, b) => TimeSpan.FromTicks((b - a) / 100))];
        for (int i = 0; i < intervals.Length; i++)
        {
            TimeSpan delay = RestartBackoff.Default.DelayAfter(i + 1);
            Assert.InRange(intervals[i], delay, delay + Slack);
        }

        ChildStatus crash = await EventuallyAsync(() => StatusOf(supervisor, "crash") is { State: ChildState.BackingOff } s ? s : null, "backing off");
        Assert.Equal(new ExitStatus(3, null), crash.LastExit);
        Assert.True(crash.RestartAt > DateTimeOffset.UtcNow - Slack);
    }

    [Fact]
    public async Task A_new_supervisor_adopts_the_running_child_instead_of_starting_another()
    {
        ProcessSupervisor first = Supervise(Counted("web"));
        int pid = (await StartedAsync(first, "web")).Pid!.Value;
        first.Dispose();
        Assert.True(Alive(pid), "disposing the supervisor stopped its child");

        ProcessSupervisor second = Supervise(Counted("web"));
        ChildStatus adopted = await RunningAsync(second, "web");
        Assert.Equal((pid, 1, true), (adopted.Pid!.Value, adopted.StartCount, adopted.Adopted));

        // Still watched: killed, it is restarted once. A duplicate started at adoption would
        // have written a third line by the time the restart has written the second.
        KillNine(pid);
        ChildStatus restarted = await RunningAsync(second, "web", s => s.Pid != pid);
        Assert.Equal((2, false), (restarted.StartCount, restarted.Adopted));
        await EventuallyAsync(() => Starts("web").Length >= 2, "the restart wrote its pid");
        Assert.Equal([pid.ToString(), restarted.Pid.ToString()!], Starts("web"));
    }

    [Fact]
    public async Task A_recorded_pid_now_held_by_another_process_is_neither_adopted_nor_signalled()
    {
        using Process stranger = Process.Start("/bin/sleep", "600");
        try
        {
            // The identity a previous supervisor would have written for a child with the
            // stranger's pid, but started at another time: the pid was reused since.
            ulong strangerStart = ProcStat.TryRead(stranger.Id)!.Value.StartTime;
            ChildSpec web = Counted("web");
            new ChildIdentity("web", stranger.Id, strangerStart - 1, ChildIdentity.CurrentBootId, "/bin/sleep", 1, web).Write(Options.StateDirectory);

            ProcessSupervisor supervisor = Supervise(web);
            ChildStatus started = await RunningAsync(supervisor, "web");
            Assert.NotEqual(stranger.Id, started.Pid);
            Assert.Equal((1, false), (started.StartCount, started.Adopted));
            await EventuallyAsync(() => Starts("web").Length == 1, "the new child wrote its pid");

            await supervisor.StopAllAsync().WaitAsync(Patience, TestContext.Current.CancellationToken);
            Assert.False(stranger.HasExited, "the stranger was signalled");
            Assert.Equal(ProcStat.TryRead(stranger.Id)!.Value.StartTime, strangerStart);
        }
        finally
        {
            stranger.Kill();
        }
    }

    [Fact]
    public async Task A_child_no_longer_desired_gets_sigterm_and_ends()
    {
        // Exits on SIGTERM, noting it. The stop timeout is long, so an end well before it was
        // not SIGKILL's doing.
        SupervisorOptions patient = Options with { StopTimeout = Patience };
        ProcessSupervisor supervisor = Supervise(patient, Counted("web", "while :; do sleep 0.1; done", trap: $"trap 'echo TERM >> {StartsFile("web")}; exit 0' TERM; "), Counted("db"));
        int pid = (await StartedAsync(supervisor, "web")).Pid!.Value;
        await RunningAsync(supervisor, "db");

        var sinceStop = Stopwatch.StartNew();
        supervisor.SetDesired([Counted("db")]);
        await EventuallyAsync(() => StatusOf(supervisor, "web") is null, "web forgotten");

        Assert.True(sinceStop.Elapsed < Patience - Slack, $"took {sinceStop.Elapsed}: SIGKILL rather than SIGTERM?");
        Assert.Equal([pid.ToString(), "TERM"], Starts("web"));
        Assert.False(Alive(pid));
        Assert.False(File.Exists(Path.Combine(_folder, "state", "web.json")));
        Assert.Equal(ChildState.Running, StatusOf(supervisor, "db")!.State);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(3)] // a child's own, as a vmm's (which waits for its guest's power-off) is longer
    public async Task A_child_that_ignores_sigterm_is_killed_after_the_stop_timeout(int? ownSeconds)
    {
        TimeSpan? own = ownSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null;
        ProcessSupervisor supervisor = Supervise(IgnoringSigterm("web") with { StopTimeout = own });
        int pid = (await StartedAsync(supervisor, "web")).Pid!.Value;

        var sinceStop = Stopwatch.StartNew();
        await supervisor.StopAsync("web").WaitAsync(Patience, TestContext.Current.CancellationToken);

        Assert.InRange(sinceStop.Elapsed, own ?? StopTimeout, (own ?? StopTimeout) + Slack);
        Assert.Equal([pid.ToString(), "TERM"], Starts("web"));
        Assert.False(Alive(pid));
        Assert.Empty(supervisor.Status());
    }

    [Fact]
    public void A_child_that_cannot_be_started_backs_off_with_the_reason()
    {
        var missing = new ChildSpec("ghost", "/nonexistent/vmm", [], new Dictionary<string, string>(), _folder);
        ProcessSupervisor supervisor = Supervise(missing);

        ChildStatus ghost = StatusOf(supervisor, "ghost")!;
        Assert.Equal((ChildState.BackingOff, 0), (ghost.State, ghost.StartCount));
        Assert.Equal("/nonexistent/vmm: No such file or directory (errno 2)", ghost.LastError);
    }

    [Fact]
    public async Task Stopping_all_leaves_no_process_behind()
    {
        ProcessSupervisor supervisor = Supervise(Counted("web"), IgnoringSigterm("stubborn"), Counted("crash", "exit 1"));
        int[] pids = [(await StartedAsync(supervisor, "web")).Pid!.Value, (await StartedAsync(supervisor, "stubborn")).Pid!.Value];
        await EventuallyAsync(() => Starts("crash").Length >= 2, "crash restarted once");

        await supervisor.StopAllAsync().WaitAsync(Patience, TestContext.Current.CancellationToken);

        Assert.Empty(supervisor.Status());
        Assert.Empty(Directory.GetFiles(Options.StateDirectory));
        // Every child led its own session: nothing may be left in those sessions (the stubborn
        // one's last `sleep 0.1` outlives it by at most that).
        await EventuallyAsync(() => !Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out int p) ? ProcStat.TryRead(p) : null)
            .Any(s => s is { State: not 'Z' } stat && pids.Contains(stat.Session)), "the children's sessions empty");
        Assert.All(pids, pid => Assert.False(Alive(pid)));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (ProcessSupervisor supervisor in _supervisors)
            supervisor.Dispose();
        // Whatever a test left running, a last supervisor adopts and stops.
        using (ProcessSupervisor last = ProcessSupervisor.Start(Options, []))
            await last.StopAllAsync().WaitAsync(Patience);
        Directory.Delete(_folder, recursive: true);
    }
}
