// Running external programs from tests: one-shot commands with a timeout and captured output,
// and long-running helpers (vswitchd, tcpdump, peer scripts) whose output lines can be awaited
// and which are stopped with a real signal. Every failure message carries the command line and
// what the program printed, so a red test says what went wrong without a rerun.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace VSwitch.Tests.Integration.Infrastructure;

public sealed record ProcessResult(string CommandLine, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Throws unless the program exited with 0; the message holds its command line and output.</summary>
    public ProcessResult EnsureSuccess()
    {
        if (ExitCode != 0)
            throw new InvalidOperationException($"`{CommandLine}` exited with {ExitCode}.{Describe()}");
        return this;
    }

    public string Describe() =>
        (Stdout.Length == 0 ? "" : $"\n--- stdout ---\n{Stdout.TrimEnd()}") +
        (Stderr.Length == 0 ? "" : $"\n--- stderr ---\n{Stderr.TrimEnd()}");
}

public static class ProcessRunner
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static string CommandLine(string file, IEnumerable<string> args) =>
        string.Join(' ', new[] { file }.Concat(args).Select(a => a.Length == 0 || a.Any(char.IsWhiteSpace) ? $"'{a}'" : a));

    /// <summary>Runs a program to completion; kills it (and its children) and throws TimeoutException when it overruns.</summary>
    public static async Task<ProcessResult> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null,
        string? stdin = null, CancellationToken cancellationToken = default)
    {
        string[] argv = args.ToArray();
        string commandLine = CommandLine(file, argv);
        var psi = NewStartInfo(file, argv);
        psi.RedirectStandardInput = stdin is not null;
        var clock = Stopwatch.StartNew();
        using var process = StartOrExplain(psi, commandLine);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        Task<string> stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        TimeSpan limit = timeout ?? DefaultTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            string partial = $"{Await(stdout)}{Await(stderr)}";
            if (cancellationToken.IsCancellationRequested)
                throw;
            throw new TimeoutException($"`{commandLine}` did not finish within {limit.TotalSeconds:0.#} s and was killed.\n{partial.TrimEnd()}");
        }
        return new ProcessResult(commandLine, process.ExitCode, await stdout, await stderr, clock.Elapsed);
    }

    public static Task<ProcessResult> RunAsync(string file, params string[] args) => RunAsync(file, args, null);

    /// <summary>Runs a program and throws with its output unless it exits with 0.</summary>
    public static async Task<ProcessResult> RunCheckedAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null, string? stdin = null) =>
        (await RunAsync(file, args, timeout, stdin)).EnsureSuccess();

    internal static ProcessStartInfo NewStartInfo(string file, IEnumerable<string> args, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory ?? "",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        return psi;
    }

    internal static Process StartOrExplain(ProcessStartInfo psi, string commandLine)
    {
        try
        {
            return Process.Start(psi) ?? throw new InvalidOperationException($"`{commandLine}` did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"`{commandLine}` could not be started: {e.Message}", e);
        }
    }

    internal static void KillTree(Process process)
    {
        try
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static string Await(Task<string> text) =>
        text.Wait(TimeSpan.FromSeconds(2)) ? text.Result : "";
}

/// <summary>POSIX signals for stopping helpers the way an operator would (Process.Kill only sends SIGKILL).</summary>
public static partial class Signals
{
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUserId();

    /// <summary>Sends a signal; returns false when the process no longer exists.</summary>
    public static bool Send(int pid, int signal) => Kill(pid, signal) == 0;

    public static bool IsAlive(int pid) => Kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() == 1; // EPERM: exists
}

/// <summary>
/// A program running beside the test: its stdout and stderr are collected line by line, a test
/// can wait for a line (a readiness message), write to its stdin, signal it and wait for its exit.
/// Disposing kills it if it is still running, so a failed test leaves nothing behind.
/// </summary>
public sealed class BackgroundProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly object _gate = new();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _waiters = [];
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Name { get; }
    public string CommandLine { get; }
    public int Pid => _process.Id;
    private bool _disposed;

    public bool HasExited => _disposed || _process.HasExited;

    private BackgroundProcess(string name, string commandLine, Process process)
    {
        Name = name;
        CommandLine = commandLine;
        _process = process;
    }

    public static BackgroundProcess Start(string name, string file, IEnumerable<string> args, bool redirectStdin = false,
        string? workingDirectory = null)
    {
        string[] argv = args.ToArray();
        string commandLine = ProcessRunner.CommandLine(file, argv);
        var psi = ProcessRunner.NewStartInfo(file, argv, workingDirectory);
        psi.RedirectStandardInput = redirectStdin;
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var background = new BackgroundProcess(name, commandLine, process);
        process.OutputDataReceived += (_, e) => background.OnLine(e.Data, background._stdout, background._stdoutClosed);
        process.ErrorDataReceived += (_, e) => background.OnLine(e.Data, background._stderr, background._stderrClosed);
        try
        {
            if (!process.Start())
                throw new InvalidOperationException($"`{commandLine}` did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"`{commandLine}` could not be started: {e.Message}", e);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return background;
    }

    public string Stdout
    {
        get { lock (_gate) return _stdout.ToString(); }
    }

    public string Stderr
    {
        get { lock (_gate) return _stderr.ToString(); }
    }

    /// <param name="tail">At most this many characters of each stream, the last ones (for failure messages of chatty programs).</param>
    public string Describe(int tail = int.MaxValue) =>
        $"`{CommandLine}`" + (_disposed ? "" : HasExited ? $" (exited with {_process.ExitCode})" : " (running)") +
        (Stdout.Length == 0 ? "" : $"\n--- {Name} stdout ---\n{Tail(Stdout.TrimEnd(), tail)}") +
        (Stderr.Length == 0 ? "" : $"\n--- {Name} stderr ---\n{Tail(Stderr.TrimEnd(), tail)}");

    private static string Tail(string text, int limit) => text.Length <= limit ? text : "..." + text[^limit..];

    private void OnLine(string? line, StringBuilder sink, TaskCompletionSource closed)
    {
        if (line is null)
        {
            closed.TrySetResult();
            lock (_gate)
            {
                // Once both streams are closed no line can come any more: fail the waiters now.
                if (_stdoutClosed.Task.IsCompleted && _stderrClosed.Task.IsCompleted)
                {
                    foreach (var waiter in _waiters)
                        waiter.Done.TrySetException(new InvalidOperationException($"{Name} closed its output before printing the awaited line"));
                    _waiters.Clear();
                }
            }
            return;
        }
        lock (_gate)
        {
            sink.Append(line).Append('\n');
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    _waiters[i].Done.TrySetResult(line);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>
    /// Waits for a line on stdout or stderr (including one printed already) that satisfies
    /// <paramref name="match"/>; throws with the output so far on timeout or early exit.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            string? seen = (_stdout.ToString() + _stderr.ToString()).Split('\n').FirstOrDefault(match);
            if (seen is not null)
                return seen;
            if (_stdoutClosed.Task.IsCompleted && _stderrClosed.Task.IsCompleted)
                throw new InvalidOperationException($"{Name} exited before {what}.\n{Describe()}");
            _waiters.Add((match, done));
        }
        Task finished = await Task.WhenAny(done.Task, Task.Delay(timeout));
        if (finished != done.Task)
        {
            lock (_gate)
                _waiters.RemoveAll(w => w.Done == done);
            throw new TimeoutException($"{Name}: no {what} within {timeout.TotalSeconds:0.#} s.\n{Describe()}");
        }
        try
        {
            return await done.Task;
        }
        catch (InvalidOperationException)
        {
            await WaitForExitAsync(TimeSpan.FromSeconds(2), throwOnTimeout: false);
            throw new InvalidOperationException($"{Name} exited before {what}.\n{Describe()}");
        }
    }

    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    public void CloseStdin()
    {
        if (!_process.StartInfo.RedirectStandardInput)
            return;
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The program already exited.
        }
    }

    public bool Signal(int signal) => !HasExited && Signals.Send(_process.Id, signal);

    /// <summary>SIGKILLs the program and its children, and waits (briefly) for them to go.</summary>
    public void Kill() => ProcessRunner.KillTree(_process);

    /// <summary>Waits for the exit and for both output streams to be read to their end; returns the exit code.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout, bool throwOnTimeout = true, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(deadline.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            if (throwOnTimeout)
                throw new TimeoutException($"{Name} did not exit within {timeout.TotalSeconds:0.#} s.\n{Describe()}");
            return null;
        }
    }

    /// <summary>Signals the program and waits for it; SIGKILLs it if it does not exit in time (and then throws).</summary>
    public async Task<int> StopAsync(int signal, TimeSpan timeout)
    {
        Signal(signal);
        int? code = await WaitForExitAsync(timeout, throwOnTimeout: false);
        if (code is null)
        {
            Kill();
            throw new TimeoutException($"{Name} ignored signal {signal} for {timeout.TotalSeconds:0.#} s and was killed.\n{Describe()}");
        }
        return code.Value;
    }

    public ValueTask DisposeAsync()
    {
        if (_disposed)
            return ValueTask.CompletedTask;
        ProcessRunner.KillTree(_process);
        _disposed = true;
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
