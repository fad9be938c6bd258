// A volume pool's journal against crashes: `vmm volume import` (a real vmm process writing a
// pool volume through the same PoolVolume a VM's disk uses) is killed with SIGKILL fifty times,
// each time after a random number of its extent records have reached the journal, and after
// every kill `vmm volume check` replays the journal from its start and finds it whole. A last,
// uninterrupted import then leaves the volume byte for byte the image.
//
// The killed imports read the image from their stdin (`--from -`), fed all but its last MiB by a
// task that never closes it. An import from a file could finish on its own while this test's
// thread was off the CPU, and then there was nothing to kill; one whose stdin stays open can
// never reach the end of its image, so it is always there to be killed: after taking every
// extent it was fed, it waits for the MiB that never comes. Where the kill lands is as random as
// before (the spin still ends at a random record, and the import keeps writing the next MiBs while
// the kill goes out), so it still often cuts an extent short mid-write.
using System.Diagnostics;
using System.IO.Pipes;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using VSwitch.Tests.Integration.Infrastructure;
using VSwitch.Tests.Kvm.Vmm;
using VSwitch.Vmm.Cli;
using VSwitch.Vmm.Volumes.Pool;
using Xunit;

namespace VSwitch.Tests.Integration.Vmm;

public sealed class PoolCrashTests : IDisposable
{
    private const int ImageMib = 24, Kills = 50;
    // All but the image's last MiB; of those, all but the MiB of zeros take an extent.
    private const int FedMib = ImageMib - 1, FedExtents = FedMib - 1;
    private const int BrokenPipe = 32; // EPIPE, which IOException carries as its HResult
    private readonly string _dir = Directory.CreateTempSubdirectory("vsw-poolcrash-").FullName;
    private string Pool => Path.Combine(_dir, "pool");
    private string Image => Path.Combine(_dir, "image.raw");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Tool(params string[] args) => VmmCommandLine.Invoke(["volume", .. args], TextWriter.Null, TextWriter.Null);

    /// <summary>Starts `vmm volume import --from <paramref name="from"/>` with its stdin ours to write (for --from -).</summary>
    private Process StartImport(string from)
    {
        ProcessStartInfo start = VmmProcess.StartInfo(["volume", "import", "--pool", Pool, "--name", "vol", "--vm", "importer", "--from", from]);
        start.RedirectStandardInput = true;
        return Process.Start(start)!;
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> to the import's stdin, from another thread, and leaves it
    /// open. It goes through a FileStream on the pipe, not the PipeStream Process gives: .NET 10's
    /// PipeStream reports a write's EPIPE as a SocketException "Connection timed out", a FileStream
    /// as what it is.
    /// </summary>
    private static Task Feed(Process import, ReadOnlyMemory<byte> bytes) => Task.Run(() =>
    {
        var pipe = (PipeStream)import.StandardInput.BaseStream;
        using var stdin = new FileStream(new SafeFileHandle(pipe.SafePipeHandle.DangerousGetHandle(), ownsHandle: false), FileAccess.Write, bufferSize: 0);
        stdin.Write(bytes.Span);
    });

    [Fact]
    public async Task An_import_killed_fifty_times_mid_write_never_leaves_a_journal_that_fails_the_check()
    {
        byte[] image = RandomNumberGenerator.GetBytes(ImageMib << 20);
        image.AsSpan(5 << 20, 1 << 20).Clear(); // a MiB of zeros, which takes no extent
        await File.WriteAllBytesAsync(Image, image);
        Assert.Equal(0, Tool("init", "--pool", Pool, "--size", "32M"));
        string journal = Path.Combine(Pool, VolumePool.JournalFile);
        var random = new Random(20261206);
        var killedAfter = new List<long>();
        for (int kill = 0; kill < Kills; kill++)
        {
            // A fresh volume each time, so every import takes extents: journal appends to cut short.
            Tool("delete", "--pool", Pool, "--name", "vol");
            Assert.Equal(0, Tool("create", "--pool", Pool, "--name", "vol", "--size", $"{ImageMib}M"));
            Assert.Equal(0, Tool("attach", "--pool", Pool, "--name", "vol", "--vm", "importer"));
            long before = new FileInfo(journal).Length;
            int records = random.Next(1, FedExtents);
            using Process import = StartImport("-");
            Task feeding = Feed(import, image.AsMemory(0, FedMib << 20));
            var clock = Stopwatch.StartNew();
            // Spinning on the journal's length alone, then SIGKILL at once: on tmpfs an extent takes
            // the import well under a millisecond.
            long target = before + records * PoolRecord.Size;
            for (long spins = 0; new FileInfo(journal).Length < target; spins++)
            {
                if ((spins & 1023) == 0 && (import.HasExited || clock.Elapsed > TimeSpan.FromSeconds(60)))
                    break;
            }
            Signals.Send(import.Id, Signals.SIGKILL);
            await import.WaitForExitAsync();
            Assert.True(import.ExitCode == 128 + Signals.SIGKILL || import.ExitCode == -1 || import.ExitCode == 137,
                $"kill {kill}: the import ended on its own (exit {import.ExitCode}) before {records} extents were journalled:\n{import.StandardOutput.ReadToEnd()}{import.StandardError.ReadToEnd()}");
            // The feeding ends having written it all (the import took it and waits for more), or
            // with the broken pipe the import's death leaves.
            Exception? fed = await Record.ExceptionAsync(() => feeding);
            Assert.True(fed is null or IOException { HResult: BrokenPipe }, $"kill {kill}: feeding the import's stdin failed: {fed}");
            import.StandardInput.Dispose(); // Process.Dispose leaves a stdin it handed out open
            killedAfter.Add((new FileInfo(journal).Length - before) / PoolRecord.Size);
            Assert.True(killedAfter[^1] >= records,
                $"kill {kill}: the import journalled {killedAfter[^1]} of the {records} extent records awaited in {clock.Elapsed.TotalSeconds:F0} s:\n{import.StandardError.ReadToEnd()}");

            Assert.Equal(0, Tool("check", "--pool", Pool));
            PoolState state = VolumePool.Replay(Pool);
            Assert.Equal(state.ExtentCount, state.FreeExtents + state.Volumes.Sum(v => (long)v.MappedExtents));
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"killed after these many extent records: {string.Join(" ", killedAfter)}");

        using (Process import = StartImport(Image))
        {
            await import.WaitForExitAsync();
            Assert.True(import.ExitCode == 0, import.StandardError.ReadToEnd());
        }
        using VolumePool pool = VolumePool.Open(Pool);
        Assert.Equal(ImageMib - 1, pool.State.Find("vol")!.MappedExtents);
        using PoolVolume volume = pool.OpenVolume("vol", "importer", readOnly: true);
        byte[] back = new byte[image.Length];
        volume.Read(0, back);
        Assert.Equal(SHA256.HashData(image), SHA256.HashData(back));
    }
}
