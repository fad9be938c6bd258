// A volume pool's journal against crashes: `vmm volume import` (a real vmm process writing a
// pool volume through the same PoolVolume a VM's disk uses) is killed with SIGKILL fifty times,
// each time after a random number of its extent records have reached the journal, and after
// every kill `vmm volume check` replays the journal from its start and finds it whole. A last,
// uninterrupted import then leaves the volume byte for byte the image.
using System.Diagnostics;
using System.Security.Cryptography;
using VSwitch.Tests.Integration.Infrastructure;
using VSwitch.Tests.Kvm.Vmm;
using VSwitch.Vmm.Cli;
using VSwitch.Vmm.Volumes.Pool;
using Xunit;

namespace VSwitch.Tests.Integration.Vmm;

public sealed class PoolCrashTests : IDisposable
{
    private const int ImageMib = 24, Kills = 50;
    private readonly string _dir = Directory.CreateTempSubdirectory("vsw-poolcrash-").FullName;
    private string Pool => Path.Combine(_dir, "pool");
    private string Image => Path.Combine(_dir, "image.raw");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Tool(params string[] args) => VmmCommandLine.Invoke(["volume", .. args], TextWriter.Null, TextWriter.Null);

    private Process StartImport() =>
        Process.Start(VmmProcess.StartInfo(["volume", "import", "--pool", Pool, "--name", "vol", "--vm", "importer", "--from", Image]))!;

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
            int records = random.Next(1, ImageMib - 2);
            using Process import = StartImport();
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
                $"kill {kill}: the import ended on its own (exit {import.ExitCode}) before {records} extents were journalled:\n{import.StandardError.ReadToEnd()}");
            killedAfter.Add((new FileInfo(journal).Length - before) / PoolRecord.Size);

            Assert.Equal(0, Tool("check", "--pool", Pool));
            PoolState state = VolumePool.Replay(Pool);
            Assert.Equal(state.ExtentCount, state.FreeExtents + state.Volumes.Sum(v => (long)v.MappedExtents));
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"killed after these many extent records: {string.Join(" ", killedAfter)}");

        using (Process import = StartImport())
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
