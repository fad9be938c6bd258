// Runs this repository's vmm as its own process, as an operator would: the NativeAOT binary named
// by VSWITCH_VMM (the KVM lane sets it to scripts/setup's .work/vmm/vmm, so trimming faults show
// in the tests), else `dotnet vmm.dll run ...` beside the tests (a developer's quick loop), with
// the guest's serial console in a file the test can watch while the VM runs.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;

namespace VSwitch.Tests.Kvm.Vmm;

internal sealed partial class VmmProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly StringBuilder _stdout = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private VmmProcess(Process process, string folder)
    {
        _process = process;
        Folder = folder;
    }

    /// <summary>A scratch folder for this VM (serial log, API socket, spec); removed on Dispose.</summary>
    public string Folder { get; }

    public string SerialLog => Path.Combine(Folder, "serial.log");

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>The command that starts vmm: its published binary, or dotnet and the vmm.dll the test project references.</summary>
    public static string[] VmmCommand
    {
        get
        {
            string? published = Environment.GetEnvironmentVariable("VSWITCH_VMM");
            if (!string.IsNullOrEmpty(published))
            {
                Assert.True(File.Exists(published), $"VSWITCH_VMM={published} does not exist (scripts/setup publishes it)");
                return [published];
            }
            string dll = Path.Combine(AppContext.BaseDirectory, "vmm.dll");
            Assert.True(File.Exists(dll), $"{dll} is missing (the test project references src/Vmm)");
            return [Environment.ProcessPath!, dll];
        }
    }

    /// <summary>How to start vmm (<see cref="VmmCommand"/>) with <paramref name="arguments"/>, its stdout and stderr redirected.</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        string[] command = VmmCommand;
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string word in command[1..].Concat(arguments))
            start.ArgumentList.Add(word);
        return start;
    }

    /// <summary>Starts `vmm run` with <paramref name="arguments"/> plus --serial-log in its own folder.</summary>
    public static VmmProcess Start(params string[] arguments)
    {
        string folder = Directory.CreateTempSubdirectory("vmm-test.").FullName;
        ProcessStartInfo start = StartInfo(["run", .. arguments, "--serial-log", Path.Combine(folder, "serial.log")]);
        start.RedirectStandardInput = true; // the guest's console input (ConsoleInput)
        var process = new Process { StartInfo = start };
        var vmm = new VmmProcess(process, folder);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (vmm._stdout) vmm._stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (vmm._stderr) vmm._stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return vmm;
    }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>
    /// The vmm's threads other than its vCPUs (named "vcpuN"), by thread id, from /proc: their
    /// name, how often each went to sleep and woke again (voluntary context switches) and its CPU
    /// time in clock ticks. <see cref="Since"/> takes the difference between two of these.
    /// </summary>
    public Dictionary<int, (string Name, long Wakeups, long CpuTicks)> NonVcpuThreads()
    {
        var threads = new Dictionary<int, (string, long, long)>();
        foreach (VmmThread t in Tasks().Where(t => !t.Name.StartsWith("vcpu", StringComparison.Ordinal)))
        {
            string? status = ReadTaskFile(t, "status");
            if (status is not null)
                threads[t.Tid] = (t.Name, long.Parse(status.Split('\n').First(l => l.StartsWith("voluntary_ctxt_switches:")).Split(':')[1]), t.CpuTicks);
        }
        return threads;
    }

    /// <summary>
    /// Each of the running vmm's threads with its state, CPU ticks and where in the kernel it
    /// waits (wchan): what a guest that printed nothing was doing.
    /// </summary>
    public string Threads() => _process.HasExited ? "(exited)" : string.Join('\n', Tasks().Select(t =>
        $"{t.Tid} {t.Name}: state {t.State}, {t.CpuTicks} ticks, waiting in {ReadTaskFile(t, "wchan")?.Trim() switch { null or "" or "0" => "-", var w => w }}"));

    /// <summary>The vmm thread named <paramref name="name"/> ("vcpu0"): its kernel id and the CPU it last ran on.</summary>
    public (int Tid, int Cpu) NamedThread(string name)
    {
        VmmThread? thread = Tasks().Select(t => (VmmThread?)t).FirstOrDefault(t => t!.Value.Name == name);
        Assert.True(thread is not null, $"vmm has no thread {name}:\n{Threads()}");
        return (thread.Value.Tid, thread.Value.Cpu);
    }

    /// <summary>
    /// CPU ticks so far of KVM's kernel thread for this VM's in-kernel PIT ("kvm-pit/PID"), which
    /// is not among the vmm's own threads; 0 if there is none. Found once, by a scan of /proc.
    /// </summary>
    public long PitThreadCpuTicks()
    {
        _pitThread ??= Directory.GetDirectories("/proc").FirstOrDefault(p => ReadProcFile(p, "comm")?.Trim() == $"kvm-pit/{_process.Id}") ?? "";
        return _pitThread.Length > 0 && ReadProcFile(_pitThread, "stat") is { } stat ? CpuTicks(StatFields(stat)) : 0;
    }

    private string? _pitThread;

    private readonly record struct VmmThread(int Tid, string Name, string Dir, string State, long CpuTicks, int Cpu);

    /// <summary>The vmm's threads (/proc/PID/task) that did not end while being listed.</summary>
    private List<VmmThread> Tasks()
    {
        var threads = new List<VmmThread>();
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{_process.Id}/task");
        }
        catch (DirectoryNotFoundException)
        {
            return threads; // the process ended
        }
        foreach (string task in tasks)
        {
            try
            {
                string name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                string[] stat = StatFields(File.ReadAllText(Path.Combine(task, "stat")));
                threads.Add(new VmmThread(int.Parse(Path.GetFileName(task)), name, task, stat[0], CpuTicks(stat),
                    int.Parse(stat[36])));
            }
            catch (IOException)
            {
                // the thread ended between the listing and the read
            }
        }
        return threads;
    }

    /// <summary>
    /// A /proc stat line from its state on, after the ")" that ends the name: the state is [0],
    /// utime and stime [11] and [12], the CPU it last ran on [36] (proc(5) fields 3, 14, 15, 39).
    /// </summary>
    private static string[] StatFields(string stat) => stat.Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static long CpuTicks(string[] statFields) => long.Parse(statFields[11]) + long.Parse(statFields[12]);

    /// <summary>A file of a thread's /proc folder; null if the thread has ended.</summary>
    private static string? ReadTaskFile(VmmThread thread, string file) => ReadProcFile(thread.Dir, file);

    /// <summary>A file of a process's or thread's /proc folder; null if it has ended.</summary>
    private static string? ReadProcFile(string folder, string file)
    {
        try
        {
            return File.ReadAllText(Path.Combine(folder, file));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Wakeups and CPU ticks between two <see cref="NonVcpuThreads"/> (a thread that ended in between is not counted), and the threads that woke.</summary>
    public static (long Wakeups, long CpuTicks, string Woke) Since(
        Dictionary<int, (string Name, long Wakeups, long CpuTicks)> before, Dictionary<int, (string Name, long Wakeups, long CpuTicks)> after)
    {
        long wakeups = 0, ticks = 0;
        var woke = new List<string>();
        foreach ((int tid, (string name, long w, long t)) in after)
        {
            (string _, long w0, long t0) = before.GetValueOrDefault(tid);
            wakeups += w - w0;
            ticks += t - t0;
            if (w != w0)
                woke.Add($"{name}: {w - w0}");
        }
        return (wakeups, ticks, string.Join(", ", woke));
    }

    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Sends vmm <paramref name="signal"/>, as a service manager stopping it would.</summary>
    public void Signal(int signal) =>
        Assert.True(Kill(_process.Id, signal) == 0, $"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");

    /// <summary>Types <paramref name="line"/> and a newline on the guest's console (vmm's stdin).</summary>
    public void ConsoleInput(string line)
    {
        _process.StandardInput.Write(line + "\n");
        _process.StandardInput.Flush();
    }

    public string Serial => File.Exists(SerialLog) ? ReadShared(SerialLog) : "";

    /// <summary>The "vmm: statistics {...}" line vmm printed as it stopped (the API's "stats" reply).</summary>
    public JsonNode Statistics()
    {
        const string Prefix = "vmm: statistics ";
        string? line = Stderr.Split('\n').FirstOrDefault(l => l.StartsWith(Prefix, StringComparison.Ordinal));
        Assert.True(line is not null, $"vmm printed no statistics line:\n{Stderr}");
        return JsonNode.Parse(line[Prefix.Length..])!;
    }

    /// <summary>
    /// Waits for the process to end; fails the test if it takes longer than <paramref name="timeout"/>.
    /// A VM that overran is stopped with SIGTERM first, so the failure carries vmm's own account:
    /// its stop and its "vmm: statistics" line, each vCPU's exits by kind, which tell a guest that
    /// ran slowly from one whose vCPUs stopped exiting (a 4-vCPU boot once printed nothing in
    /// 240 s, where it takes 16-24 s). SIGKILL only if that does not end it either.
    /// </summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Signal(SIGTERM);
            bool stopped = _process.WaitForExit(TimeSpan.FromSeconds(45));
            if (stopped)
                _process.WaitForExit(); // the redirected output, read to its end
            else
                KillAndReap();
            Assert.Fail($"vmm did not end within {timeout.TotalSeconds} s; then {(stopped ? "SIGTERM stopped it" : "not even 45 s after SIGTERM")}.\n" +
                $"stderr:\n{Stderr}\nserial:\n{Serial}");
        }
        // Without a timeout WaitForExit also waits for the redirected output to be read to its
        // end (the overload with one does not); the process has exited, so this returns.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Polls the serial log until a line matches; fails with the log if the VMM ends or time runs out first.</summary>
    public string WaitForSerialLine(Func<string, bool> match, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            string? line = Serial.Split('\n').Select(l => l.TrimEnd('\r')).FirstOrDefault(match);
            if (line is not null)
                return line;
            if (_process.HasExited)
                break;
            Thread.Sleep(100);
        }
        Assert.Fail($"no matching serial line after {deadline.Elapsed.TotalSeconds:F0} s (vmm {(_process.HasExited ? $"exited {_process.ExitCode}" : "running")}).\n" +
                    $"stderr:\n{Stderr}\nserial:\n{Serial}\nthreads:\n{Threads()}");
        return "";
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            KillAndReap();
        _process.Dispose();
        Directory.Delete(Folder, recursive: true);
    }

    /// <summary>
    /// SIGKILL, then a bounded wait: a vmm that SIGKILL cannot end is stuck inside the kernel
    /// (KVM_RUN), and the test must say so rather than wait for it forever.
    /// </summary>
    private void KillAndReap()
    {
        _process.Kill();
        if (!_process.WaitForExit(KillTimeout))
            Assert.Fail($"vmm (pid {_process.Id}) did not end within {KillTimeout.TotalSeconds} s of SIGKILL: stuck in the kernel? " +
                        $"/proc/{_process.Id}/stack:\n{TryReadShared($"/proc/{_process.Id}/stack")}\nstderr:\n{Stderr}");
    }

    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(30);

    private static string TryReadShared(string path)
    {
        try
        {
            return ReadShared(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"({e.Message})";
        }
    }
}
