// A command run to its end by a test (`vmm volume`, dmsetup, mount, ...): its exit code and what
// it printed, and a failed test, not a hung one, when it does not end in time.
using System.Diagnostics;
using Xunit;

namespace VSwitch.Tests.Kvm.Vmm;

internal static class ToolRun
{
    /// <summary>Runs <paramref name="info"/> (stdout and stderr redirected) to its end; kills it and fails the test past <paramref name="limit"/>.</summary>
    public static (int Exit, string Output) ToEnd(ProcessStartInfo info, TimeSpan limit)
    {
        string command = $"{info.FileName} {string.Join(' ', info.ArgumentList)}";
        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {info.FileName}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{command} did not end within {limit.TotalSeconds} s");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>`vmm volume ARGS --pool POOL`: its exit code, stdout and stderr. The bound is generous: a pool on a slow device in the sandbox.</summary>
    public static (int Exit, string Output) Volume(string pool, params string[] args) =>
        ToEnd(VmmProcess.StartInfo(["volume", .. args, "--pool", pool]), TimeSpan.FromSeconds(120));

    /// <summary>The same, failing the test unless it exits 0; returns what it printed.</summary>
    public static string VolumeOk(string pool, params string[] args)
    {
        (int exit, string output) = Volume(pool, args);
        Assert.True(exit == 0, $"vmm volume {string.Join(' ', args)} --pool {pool}: exit {exit}\n{output}");
        return output;
    }

    /// <summary>The same for a program and its arguments.</summary>
    public static (int Exit, string Output) ToEnd(string file, IEnumerable<string> args, TimeSpan limit)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
            info.ArgumentList.Add(arg);
        return ToEnd(info, limit);
    }
}
