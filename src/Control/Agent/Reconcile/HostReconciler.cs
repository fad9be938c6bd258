// Keeps the host's daemons running and serving the desired state (docs/agent.md, "Reconcile").
// One loop, on start, after every change the API stores (Poke) and every few seconds besides:
//   1. compiles vswitchd's configuration from the stored state (VswitchdPlan) and, if its text
//      changed, writes it, so a vswitchd started or restarted at any moment, by the supervisor
//      or by hand, reads the current desired state;
//   2. with a vmm binary, readies every VM's volumes and spec and names its vmm child
//      (VmmChildren), and after step 4 brings each running vmm to its VM's power state
//      (VmmPower: paused or running);
//   3. hands the supervisor its desired set: the child "vswitchd" (`vswitchd run --config PATH`),
//      its spec carrying a digest of what only a restart changes (VswitchdDiff.StaticFingerprint),
//      and the VMs' children;
//   4. asks vswitchd for its `list`, sends the ops VswitchdDiff finds, and asks again, until
//      nothing differs. Nothing is remembered between passes: the stored state and vswitchd's
//      own report are the truth, so a vswitchd restarted from an older file, one adopted from an
//      earlier agent, or a change half applied before a failure all converge the same way.
//   5. reports what the plan had to leave out (VswitchdPlan.Unserved: remote VMs on a host
//      without an uplink) as not converged. Only a change of the state or of the host settings
//      (a restart of the agent) can cure that, so it does not make the loop try again sooner.
// A daemon that cannot be reached or refuses an op never fails the API request that caused the
// pass: the loop logs it, reports it in /v1/status and tries again a second later.
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using VSwitch.Common.Control;
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Supervision;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Reconcile;

public sealed class HostReconciler : IAsyncDisposable
{
    /// <summary>The supervisor's name for vswitchd: its log is LOG_DIR/vswitchd.log, its record SUPERVISOR_DIR/vswitchd.json.</summary>
    public const string VswitchdChild = "vswitchd";

    /// <summary>The environment variable of vswitchd's child spec that holds the static fingerprint; vswitchd ignores it.</summary>
    public const string FingerprintVariable = "VSWITCH_AGENT_STATIC_CONFIG";

    /// <summary>How soon a pass that did not converge is tried again: vswitchd starts in about 2 s, so a second is not long to wait.</summary>
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);
    /// <summary>How often a converged vswitchd is checked again without a change: one `list` every 5 s costs nothing, and catches a restart or an edit by hand.</summary>
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(5);
    /// <summary>The longest one control request may take: vswitchd answers in milliseconds, or waits up to 5 s for its workers on a change.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(15);
    /// <summary>Rounds of list, ops, list in one pass: one applies the diff, the next confirms it; more means vswitchd changes under us.</summary>
    private const int MaxRounds = 3;

    private readonly Func<DesiredState> _read;
    private readonly ReconcileSettings _settings;
    private readonly ILogger _logger;
    private readonly ProcessSupervisor _supervisor;
    private readonly VmmChildren? _vmms;
    private readonly VmmPower _power;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private readonly Lock _lock = new();
    private VswitchdConvergence _convergence;
    /// <summary>The vswitchd process the last pass checked: a convergence is about that process alone.</summary>
    private int? _checkedPid;
    private VmsConvergence? _vmsConvergence;

    private HostReconciler(Func<DesiredState> read, ReconcileSettings settings, ILogger logger)
    {
        _read = read;
        _logger = logger;
        Directory.CreateDirectory(settings.Host.RuntimeDirectory);
        // vswitchd reports a vhost-user socket by its real path (docs/control-socket.md, add-port),
        // so the plan must name it so too, or a runtime directory under a symbolic link
        // (/var/run -> /run) would never compare equal and its ports would be replaced forever.
        _settings = settings with { Host = settings.Host with { RuntimeDirectory = RealDirectory(settings.Host.RuntimeDirectory) } };
        _convergence = new VswitchdConvergence(false, "not checked yet", null, Paths.VswitchdConfig);
        _power = new VmmPower(Paths);
        Directory.CreateDirectory(Paths.VhostDirectory);
        if (_settings.VmmBinary is { } vmm)
        {
            _vmms = new VmmChildren(_settings, vmm);
            _vmsConvergence = new VmsConvergence(false, ["not checked yet"]);
        }
        // The files come first: the supervisor may start vswitchd and the VMs at once, which read
        // them. A vmm an earlier agent left running is adopted only if it is in this first set;
        // any other recorded child is stopped.
        _supervisor = ProcessSupervisor.Start(new SupervisorOptions(settings.SupervisorDirectory, settings.LogDirectory),
            DesiredChildren(_read(), out _, out _), logger);
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Writes vswitchd's configuration, starts supervising vswitchd (adopting one an earlier agent left running) and starts the loop.</summary>
    /// <param name="read">Reads the stored desired state.</param>
    /// <exception cref="IOException">The runtime directory cannot be written.</exception>
    public static HostReconciler Start(Func<DesiredState> read, ReconcileSettings settings, ILogger logger) => new(read, settings, logger);

    /// <summary>Where the daemons' files and sockets are (the VMs' vmm API sockets among them).</summary>
    public RuntimePaths Paths => _settings.Host.Paths;

    /// <summary>The existing directory's absolute path with every symbolic link along it resolved (realpath(3)).</summary>
    internal static string RealDirectory(string directory)
    {
        string real = Path.GetPathRoot(directory)!;
        foreach (string part in directory.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var next = new DirectoryInfo(Path.Join(real, part));
            real = next.LinkTarget is null ? next.FullName : next.ResolveLinkTarget(returnFinalTarget: true)!.FullName;
        }
        return real;
    }

    /// <summary>The desired state changed: run a pass now.</summary>
    public void Poke()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A pass is already due; it reads the state when it starts, this change included.
        }
    }

    /// <summary>The supervised children and vswitchd's convergence, as /v1/status answers.</summary>
    public AgentStatus Status()
    {
        lock (_lock)
        {
            IReadOnlyList<ChildStatus> children = _supervisor.Status();
            return new AgentStatus([.. children.Select(Child)], Current(_convergence, _checkedPid, VswitchdPid(children)), _vmsConvergence);
        }
    }

    /// <summary>
    /// <paramref name="convergence"/>, unless vswitchd died or was restarted since the
    /// pass checked it: what that pass found is not true of a new process, which reads its file
    /// again and starts with none of the live changes (a test or an operator waiting for
    /// "converged" after a kill must not be told so by the dead process's check).
    /// </summary>
    internal static VswitchdConvergence Current(VswitchdConvergence convergence, int? checkedPid, int? pid) =>
        convergence.Converged && pid != checkedPid
            ? convergence with { Converged = false, LastError = pid is { } now ? $"vswitchd was restarted (pid {now}) since the last check; the next pass checks it" : "vswitchd is not running" }
            : convergence;

    private static int? VswitchdPid(IReadOnlyList<ChildStatus> children) =>
        children.FirstOrDefault(c => c.Name == VswitchdChild && c.State == ChildState.Running)?.Pid;

    internal static SupervisedChild Child(ChildStatus child) => new(
        child.Name,
        child.State switch
        {
            ChildState.Running => "running",
            ChildState.Stopping => "stopping",
            _ => "backing_off",
        },
        child.Pid,
        child.StartCount,
        child.Adopted,
        child.RestartAt,
        child.LastExit?.ToString(),
        child.LastError);

    private ChildSpec Spec(string fingerprint) =>
        new(VswitchdChild, _settings.VswitchdBinary, ["run", "--config", Paths.VswitchdConfig],
            ChildEnvironment.For(FingerprintVariable, fingerprint), _settings.Host.RuntimeDirectory);

    /// <summary>Writes the daemons' files for <paramref name="state"/> and returns the children to run: vswitchd and, with a vmm binary, the VMs (and why any VM is not ready).</summary>
    private List<ChildSpec> DesiredChildren(DesiredState state, out JsonObject plan, out IReadOnlyList<string> vmProblems)
    {
        List<ChildSpec> children = [Spec(WritePlan(out plan, state))];
        vmProblems = [];
        if (_vmms is not null)
        {
            (IReadOnlyList<ChildSpec> vmms, vmProblems) = _vmms.Plan(state);
            children.AddRange(vmms);
        }
        return children;
    }

    /// <summary>Brings each running vmm to its VM's power state and publishes the VMs' outcome; true when every VM is as desired.</summary>
    private async Task<bool> ConvergeVmsAsync(DesiredState state, IReadOnlyList<string> planProblems, CancellationToken ct)
    {
        if (_vmms is null)
            return true;
        (IReadOnlyDictionary<string, string> observed, IReadOnlyList<string> powerProblems) = await _power.ConvergeAsync(state, _supervisor.Status(), ct);
        List<string> problems = [.. planProblems, .. powerProblems];
        RecordVms(problems, observed);
        return problems.Count == 0;
    }

    /// <summary>Compiles the plan from <paramref name="state"/>, writes the file if its text changed, and returns the static fingerprint.</summary>
    private string WritePlan(out JsonObject plan, DesiredState state)
    {
        plan = VswitchdPlan.Build(state, _settings.Host);
        if (RuntimeFile.Replace(Paths.VswitchdConfig, VswitchdPlan.Text(plan)))
            ReconcileLog.Wrote(_logger, Paths.VswitchdConfig);
        return VswitchdDiff.StaticFingerprint(plan);
    }

    private async Task LoopAsync()
    {
        CancellationToken ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            string? problem;
            int? checkedPid = null;
            bool vmsReady = true, retry;
            Exception? failure = null;
            try
            {
                DesiredState state = _read();
                _supervisor.SetDesired(DesiredChildren(state, out JsonObject plan, out IReadOnlyList<string> vmProblems));
                checkedPid = VswitchdPid(_supervisor.Status());
                problem = await ConvergeAsync(plan, ct);
                vmsReady = await ConvergeVmsAsync(state, vmProblems, ct);
                retry = problem is not null;
                problem ??= VswitchdPlan.Unserved(state, _settings.Host);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Not vswitchd's doing (an unwritable runtime directory, a bug): logged with its
                // stack, once, like any other reason, and retried like one.
                failure = e;
                problem = $"the reconcile pass failed: {e.Message}";
                retry = true;
            }
            TimeSpan next = retry || !vmsReady ? RetryInterval : CheckInterval;
            Record(problem, failure, next, checkedPid);
            try
            {
                await _wake.WaitAsync(next, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Publishes the VMs' outcome; logs each problem when it is new.</summary>
    private void RecordVms(IReadOnlyList<string> problems, IReadOnlyDictionary<string, string> power)
    {
        VmsConvergence? previous;
        lock (_lock)
        {
            previous = _vmsConvergence;
            _vmsConvergence = new VmsConvergence(problems.Count == 0, problems, power);
        }
        foreach (string problem in problems.Except(previous?.Problems ?? []))
            ReconcileLog.VmNotReady(_logger, problem, RetryInterval.TotalSeconds);
    }

    /// <summary>Publishes the pass's outcome; logs it when it differs from the last one.</summary>
    /// <param name="next">How soon the next pass runs.</param>
    /// <param name="checkedPid">The vswitchd process the pass checked.</param>
    private void Record(string? problem, Exception? failure, TimeSpan next, int? checkedPid)
    {
        VswitchdConvergence previous;
        lock (_lock)
        {
            previous = _convergence;
            _convergence = new VswitchdConvergence(problem is null, problem, DateTimeOffset.UtcNow, Paths.VswitchdConfig);
            _checkedPid = checkedPid;
        }
        if (problem is null && !previous.Converged)
            ReconcileLog.Converged(_logger);
        else if (problem is not null && problem != previous.LastError && failure is not null)
            ReconcileLog.Failed(_logger, failure, next.TotalSeconds);
        else if (problem is not null && problem != previous.LastError)
            ReconcileLog.NotConverged(_logger, problem, next.TotalSeconds);
    }

    /// <summary>Brings the running vswitchd to <paramref name="plan"/>; null once it matches, else why it does not yet.</summary>
    private async Task<string?> ConvergeAsync(JsonObject plan, CancellationToken ct)
    {
        string socket = Paths.ControlSocket;
        // Said plainly: connect(2) on a missing Unix socket reports EADDRNOTAVAIL in .NET's words.
        if (!File.Exists(socket))
            return $"vswitchd's control socket {socket} is not there (vswitchd not running, or still starting)";
        ControlClient client;
        try
        {
            client = await WithTimeout(token => ControlClient.ConnectAsync(socket, token), ct);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or TimeoutException)
        {
            return $"cannot reach vswitchd on {socket}: {e.Message}";
        }
        await using (client)
        {
            try
            {
                for (int round = 1; ; round++)
                {
                    JsonObject list = await WithTimeout(token => client.RequestAsync(new JsonObject { ["op"] = "list" }, token), ct);
                    VswitchdChanges changes = VswitchdDiff.Compute(plan, list);
                    if (changes.None)
                        return null;
                    if (changes.Restart is { } why)
                    {
                        // vswitchd exits after answering; the supervisor starts it again on the file.
                        ReconcileLog.Restarting(_logger, why);
                        await WithTimeout(token => client.RequestAsync(new JsonObject { ["op"] = "shutdown" }, token), ct);
                        return $"restarting vswitchd: {why}";
                    }
                    if (round == MaxRounds)
                        return $"vswitchd still differs after {MaxRounds - 1} rounds of changes: {changes.Ops[0].ToJsonString()} is still needed";
                    foreach (JsonObject op in changes.Ops)
                    {
                        try
                        {
                            await WithTimeout(token => client.RequestAsync(op, token), ct);
                        }
                        catch (ControlRequestFailedException e)
                        {
                            return $"vswitchd refused {op.ToJsonString()}: {e.Error}";
                        }
                        ReconcileLog.Applied(_logger, op.ToJsonString());
                    }
                }
            }
            catch (Exception e) when (e is ControlProtocolException or ControlRequestFailedException or System.Net.Sockets.SocketException
                or IOException or TimeoutException or InvalidDataException)
            {
                return $"vswitchd on {socket}: {e.Message}";
            }
        }
    }

    /// <summary>Runs a control exchange with RequestTimeout, as a TimeoutException when it runs out.</summary>
    private static Task<T> WithTimeout<T>(Func<CancellationToken, Task<T>> exchange, CancellationToken ct) =>
        ControlClient.WithinAsync(RequestTimeout, exchange, ct);

    /// <summary>Ends the loop and the supervisor's watch. vswitchd keeps running: the next agent adopts it.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _supervisor.Dispose();
        _stop.Dispose();
        _wake.Dispose();
    }
}
