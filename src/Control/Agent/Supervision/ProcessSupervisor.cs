// Keeps a desired set of child processes running (docs/agent.md, "Supervision"): starts those
// missing, restarts those that die after a backoff (RestartBackoff), stops those no longer
// desired (SIGTERM, then SIGKILL after StopTimeout), and adopts, when it is created, the children
// a previous supervisor left running (ChildIdentity). Children outlive it: disposing the
// supervisor, or killing the agent, leaves them running for the next one; StopAllAsync stops them.
//
// One loop, on its own thread, owns every child and is the only code that starts, signals,
// reaps or forgets one. It sleeps in poll(2) on every child's pidfd (readable when that child
// exits, whoever its parent is) and on an eventfd the other threads signal after changing the
// desired set, with a timeout at the next restart or SIGKILL deadline. SetDesired, StopAsync and
// StopAllAsync only change the desired set under a lock and wake it; Status reads the last
// snapshot the loop published.
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VSwitch.Control.Agent.Supervision.Interop;
using static VSwitch.Control.Agent.Supervision.Interop.Interop;

namespace VSwitch.Control.Agent.Supervision;

public sealed class ProcessSupervisor : IDisposable
{
    private const int SIGKILL = 9;
    private const int SIGTERM = 15;

    private readonly SupervisorOptions _options;
    private readonly ILogger _logger;
    private readonly FileDescriptorHandle _wake = CreateEventFd();

    private readonly Lock _lock = new();
    // Under _lock: what should run, and who waits for children to be gone (a name, or null for all).
    private Dictionary<string, ChildSpec> _desired;
    private readonly List<(string? Name, TaskCompletionSource Gone)> _waiters = [];
    private bool _disposed;

    // The loop's own: every child it knows, running or waiting to restart or stopping.
    private readonly Dictionary<string, Supervised> _children = new(StringComparer.Ordinal);
    private volatile IReadOnlyList<ChildStatus> _status = [];
    private readonly Task _loop;

    /// <summary>A child the loop knows: its process (if one runs) and its restart bookkeeping.</summary>
    private sealed class Supervised(ChildSpec spec)
    {
        public ChildSpec Spec = spec;
        public ChildProcess? Process;
        public int StartCount;
        public int Failures;
        public long? RestartAt;
        public DateTimeOffset? RestartAtWall;
        /// <summary>Set once SIGTERM is sent (stopping): when SIGKILL follows.</summary>
        public long? KillAt;
        public bool Killed;
        public ExitStatus? LastExit;
        public string? LastError;
    }

    private ProcessSupervisor(SupervisorOptions options, IEnumerable<ChildSpec> desired, ILogger? logger)
    {
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _desired = Validated(desired);
        try
        {
            AdoptSurvivors();
            Reconcile();
        }
        catch
        {
            foreach (Supervised child in _children.Values)
                child.Process?.Dispose();
            _wake.Dispose();
            throw;
        }
        _loop = Task.Factory.StartNew(Run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>
    /// Adopts the children a previous supervisor on <paramref name="options"/>' state directory
    /// left running, then starts keeping <paramref name="desired"/> running. An adopted child no
    /// longer desired is stopped; one desired with another spec is restarted with it.
    /// </summary>
    /// <exception cref="ArgumentException">A spec is invalid or two share a name.</exception>
    public static ProcessSupervisor Start(SupervisorOptions options, IEnumerable<ChildSpec> desired, ILogger? logger = null) =>
        new(options, desired, logger);

    /// <summary>Replaces the desired set; the loop starts, stops and restarts children to match.</summary>
    /// <exception cref="ArgumentException">A spec is invalid or two share a name.</exception>
    public void SetDesired(IEnumerable<ChildSpec> desired)
    {
        Dictionary<string, ChildSpec> validated = Validated(desired);
        Change(() => _desired = validated, wait: false, name: null);
    }

    /// <summary>Removes <paramref name="name"/> from the desired set; completes once its process (if any) has exited.</summary>
    public Task StopAsync(string name) => Change(() => _desired.Remove(name), wait: true, name);

    /// <summary>Empties the desired set; completes once every child has exited, adopted ones included.</summary>
    public Task StopAllAsync() => Change(() => _desired.Clear(), wait: true, name: null);

    /// <summary>Every child the supervisor knows, by name, as of the loop's last pass.</summary>
    public IReadOnlyList<ChildStatus> Status() => _status;

    /// <summary>Ends the loop and closes its descriptors. The children keep running: a supervisor created later on the same state directory adopts them.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        Interop.Interop.Signal(_wake);
        _loop.GetAwaiter().GetResult();
        foreach (Supervised child in _children.Values)
            child.Process?.Dispose();
        _wake.Dispose();
        lock (_lock)
        {
            foreach ((_, TaskCompletionSource gone) in _waiters)
                gone.TrySetException(new ObjectDisposedException(nameof(ProcessSupervisor), "the supervisor was disposed before its children stopped"));
            _waiters.Clear();
        }
    }

    private static Dictionary<string, ChildSpec> Validated(IEnumerable<ChildSpec> desired)
    {
        var byName = new Dictionary<string, ChildSpec>(StringComparer.Ordinal);
        foreach (ChildSpec spec in desired)
        {
            spec.Validate();
            if (!byName.TryAdd(spec.Name, spec))
                throw new ArgumentException($"child name '{spec.Name}' is given twice");
        }
        return byName;
    }

    /// <summary>Applies <paramref name="change"/> to the desired set and wakes the loop; if <paramref name="wait"/>, the task completes once child <paramref name="name"/> (null: every child) is gone.</summary>
    private Task Change(Action change, bool wait, string? name)
    {
        var gone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            change();
            if (wait)
                _waiters.Add((name, gone));
            else
                gone.SetResult();
        }
        Interop.Interop.Signal(_wake);
        return gone.Task;
    }

    private void AdoptSurvivors()
    {
        foreach ((string name, ChildIdentity? identity, string? problem) in ChildIdentity.ReadAll(_options.StateDirectory))
        {
            string? refusal = problem;
            ChildProcess? process = identity is null ? null : ChildProcess.Adopt(identity, out refusal);
            if (process is null)
            {
                SupervisorLog.NotAdopted(_logger, name, refusal ?? "unreadable");
                ChildIdentity.Delete(_options.StateDirectory, name);
                continue;
            }
            _children[name] = new Supervised(identity!.Spec) { Process = process, StartCount = identity.StartCount };
            SupervisorLog.Adopted(_logger, name, process.Pid);
        }
    }

    private void Run()
    {
        try
        {
            Loop();
        }
        catch (Exception e)
        {
            // Only a bug or a broken host (poll failing) gets here: said loudly, since the
            // children are no longer watched; the task faults and Dispose rethrows it.
            SupervisorLog.LoopFailed(_logger, e);
            throw;
        }
    }

    private void Loop()
    {
        var fds = new List<PollFd>();
        var watched = new List<Supervised>();
        while (!IsDisposed())
        {
            fds.Clear();
            watched.Clear();
            fds.Add(new PollFd { Fd = _wake.Number, Events = POLLIN });
            foreach (Supervised child in _children.Values.Where(c => c.Process is not null))
            {
                fds.Add(new PollFd { Fd = child.Process!.Pidfd.Number, Events = POLLIN });
                watched.Add(child);
            }
            PollFd[] ready = [.. fds];
            Poll(ready, TimeoutUntilNextDeadline());
            if (ready[0].Revents != 0)
                Drain(_wake);
            for (int i = 1; i < ready.Length; i++)
            {
                if (ready[i].Revents != 0)
                    Guarded(watched[i - 1], Exited);
            }
            if (IsDisposed())
                return;
            Reconcile();
        }
    }

    private bool IsDisposed()
    {
        lock (_lock)
            return _disposed;
    }

    /// <summary>Milliseconds until the earliest restart or SIGKILL is due (rounded up, so the loop never wakes just before it), or -1 for none.</summary>
    private int TimeoutUntilNextDeadline()
    {
        long? next = _children.Values.SelectMany(c => new[] { c.Process is null ? c.RestartAt : null, c.Killed ? null : c.KillAt }).Min();
        if (next is null)
            return -1;
        double ms = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next.Value).TotalMilliseconds;
        return (int)Math.Clamp(Math.Ceiling(ms), 0, int.MaxValue);
    }

    /// <summary>Brings the children in line with the desired set: one pass, never waiting.</summary>
    private void Reconcile()
    {
        Dictionary<string, ChildSpec> desired;
        lock (_lock)
            desired = new Dictionary<string, ChildSpec>(_desired, StringComparer.Ordinal);
        long now = Stopwatch.GetTimestamp();

        foreach (Supervised child in _children.Values.ToList())
        {
            bool wanted = desired.TryGetValue(child.Spec.Name, out ChildSpec? spec);
            if (child.Process is null && !wanted)
                _children.Remove(child.Spec.Name);
            // A stop once begun is finished even if the child is desired as it was again: a
            // child sent SIGTERM may be on its way out, and is restarted once it is gone.
            else if (child.Process is not null && (child.KillAt is not null || !wanted || spec != child.Spec))
                Guarded(child, c => Stop(c, now));
        }
        foreach (ChildSpec spec in desired.Values)
        {
            if (!_children.TryGetValue(spec.Name, out Supervised? child))
                _children[spec.Name] = child = new Supervised(spec);
            if (child.Process is null && (child.RestartAt is null || child.RestartAt <= now))
                Guarded(child, c => Launch(c, spec));
        }
        Publish();
    }

    private void Launch(Supervised child, ChildSpec spec)
    {
        child.Spec = spec;
        child.RestartAt = null;
        child.RestartAtWall = null;
        ChildProcess process;
        try
        {
            process = ChildProcess.Launch(spec, _options.LogDirectory);
        }
        catch (ChildStartException e)
        {
            child.LastError = e.Message;
            TimeSpan delay = BackOff(child, TimeSpan.Zero);
            SupervisorLog.StartFailed(_logger, spec.Name, e.Message, delay.TotalSeconds);
            return;
        }
        child.Process = process;
        child.StartCount++;
        child.LastError = null;
        try
        {
            process.IdentityOf(spec, child.StartCount).Write(_options.StateDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A child the next agent cannot adopt would be started twice by it (two VMMs on one
            // volume): better not run it. Its exit counts as a failure and backs off.
            child.LastError = $"cannot record its identity in {_options.StateDirectory}: {e.Message}";
            SupervisorLog.Unrecorded(_logger, spec.Name, process.Pid, child.LastError);
            process.Signal(SIGKILL);
            return;
        }
        SupervisorLog.Started(_logger, spec.Name, process.Pid, child.StartCount, spec.Executable);
    }

    /// <summary>SIGTERM the first time, SIGKILL once the child's StopTimeout (else the supervisor's) has passed since.</summary>
    private void Stop(Supervised child, long now)
    {
        ChildProcess process = child.Process!;
        if (child.KillAt is null)
        {
            SupervisorLog.Stopping(_logger, child.Spec.Name, process.Pid, "SIGTERM");
            process.Signal(SIGTERM);
            child.KillAt = now + (long)((child.Spec.StopTimeout ?? _options.StopTimeout).TotalSeconds * Stopwatch.Frequency);
        }
        else if (now >= child.KillAt && !child.Killed)
        {
            SupervisorLog.Stopping(_logger, child.Spec.Name, process.Pid, "SIGKILL");
            process.Signal(SIGKILL);
            child.Killed = true; // now only its exit is awaited
        }
    }

    /// <summary>The child's pidfd turned readable: it has ended. Reaped if it is ours, forgotten on disk, and either left stopped or scheduled to restart.</summary>
    private void Exited(Supervised child)
    {
        ChildProcess process = child.Process!;
        if (process.Reap() is not { } exit)
            return;
        child.Process = null;
        child.LastExit = exit;
        process.Dispose();
        if (child.KillAt is not null)
        {
            // Stopped on purpose (no longer desired, or desired with another spec): not a failure.
            (child.KillAt, child.Killed) = (null, false);
            SupervisorLog.Stopped(_logger, child.Spec.Name, process.Pid, exit.ToString());
        }
        else
        {
            TimeSpan delay = BackOff(child, Stopwatch.GetElapsedTime(process.Since));
            SupervisorLog.Died(_logger, child.Spec.Name, process.Pid, exit.ToString(), delay.TotalSeconds);
        }
        ChildIdentity.Delete(_options.StateDirectory, child.Spec.Name);
    }

    /// <summary>Counts a failure after a run of <paramref name="ran"/> and schedules the restart.</summary>
    private TimeSpan BackOff(Supervised child, TimeSpan ran)
    {
        child.Failures = _options.Backoff.FailuresAfter(child.Failures, ran);
        TimeSpan delay = _options.Backoff.DelayAfter(child.Failures);
        child.RestartAt = Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);
        child.RestartAtWall = DateTimeOffset.UtcNow + delay;
        return delay;
    }

    /// <summary>Runs one child's step so that a failure (an unwritable state directory, a signal refused) is logged and shown in its status, and never ends the loop.</summary>
    private void Guarded(Supervised child, Action<Supervised> step)
    {
        try
        {
            step(child);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            child.LastError = e.Message;
            SupervisorLog.Failed(_logger, e, child.Spec.Name);
        }
    }

    /// <summary>Publishes the status snapshot and completes the waits for children now gone.</summary>
    private void Publish()
    {
        _status = [.. _children.Values.OrderBy(c => c.Spec.Name, StringComparer.Ordinal).Select(c => new ChildStatus(
            c.Spec.Name,
            c.Process is null ? ChildState.BackingOff : c.KillAt is null ? ChildState.Running : ChildState.Stopping,
            c.Process?.Pid,
            c.StartCount,
            c.Process?.Adopted ?? false,
            c.Process is null ? c.RestartAtWall : null,
            c.LastExit,
            c.LastError))];
        lock (_lock)
        {
            _waiters.RemoveAll(w =>
            {
                bool gone = w.Name is null ? _children.Count == 0 : !_children.ContainsKey(w.Name);
                if (gone)
                    w.Gone.SetResult();
                return gone;
            });
        }
    }
}
