// Runs this repository's vmm as its own process, as an operator would: `dotnet vmm.dll run ...`,
// with the guest's serial console in a file the test can watch while the VM runs.
using System.Diagnostics;
using System.Text;
using Xunit;

namespace VSwitch.Tests.Kvm.Vmm;

internal sealed class VmmProcess : IDisposable
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

    public static string VmmDll
    {
        get
        {
            string dll = Path.Combine(AppContext.BaseDirectory, "vmm.dll");
            Assert.True(File.Exists(dll), $"{dll} is missing (the test project references src/Vmm)");
            return dll;
        }
    }

    /// <summary>Starts `vmm run` with <paramref name="arguments"/> plus --serial-log in its own folder.</summary>
    public static VmmProcess Start(params string[] arguments)
    {
        string folder = Directory.CreateTempSubdirectory("vmm-test.").FullName;
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(VmmDll);
        start.ArgumentList.Add("run");
        foreach (string a in arguments)
            start.ArgumentList.Add(a);
        start.ArgumentList.Add("--serial-log");
        start.ArgumentList.Add(Path.Combine(folder, "serial.log"));
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

    public string Serial => File.Exists(SerialLog) ? ReadShared(SerialLog) : "";

    /// <summary>Waits for the process to end; fails the test (after killing it) if it takes longer than <paramref name="timeout"/>.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            KillAndReap();
            Assert.Fail($"vmm did not end within {timeout.TotalSeconds} s.\nstderr:\n{Stderr}\nserial:\n{Serial}");
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
                    $"stderr:\n{Stderr}\nserial:\n{Serial}");
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
