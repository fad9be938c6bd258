// Two Debian guests on two volumes of one thin pool (Volumes/Pool, docs/vmm.md "Volume pools"),
// made and attached with the `vmm volume` tool as an operator would. Both fill their volume with
// their own text at once; then the pool's journal checks out, each volume took extents only for
// what it wrote, B's VM naming A's volume is refused before it boots, and A's volume is deleted.
// B boots again with a new volume that takes its extents from A's freed ones (one sector written
// in every MiB), and reads both of its disks whole: A's text is on neither. And a guest makes
// ext4 on a pool volume that a second boot reads back, and whose trim gives extents back.
using System.Text.RegularExpressions;
using VSwitch.Tests.Unit.Vmm.Volumes;
using VSwitch.Vmm.Volumes.Pool;
using Xunit;

namespace VSwitch.Tests.Kvm.Vmm;

public sealed partial class GuestPoolTests : IDisposable
{
    private static readonly TimeSpan BootLimit = TimeSpan.FromSeconds(240);
    // Small, because every byte crosses an emulated CPU in the sandbox: a 16-extent pool, 8 MiB
    // volumes, 6 MiB written by each of A and B.
    private const int FillMib = 6;
    private const string TextA = "A-SECRET-7f3c", TextB = "B-OWN-91d2";

    private readonly string _dir = Directory.CreateTempSubdirectory("vsw-pool-").FullName;
    private string Pool => Path.Combine(_dir, "pool");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Exit, string Output) Volume(params string[] args) => ToolRun.Volume(Pool, args);

    private void VolumeOk(params string[] args) => ToolRun.VolumeOk(Pool, args);

    private string Spec(string vm, string parameters, params string[] volumes) =>
        GuestSpec.Write(_dir, $"{vm}-{volumes.Length}", parameters, GuestSpec.PoolDisks(Pool, volumes), vm);

    [GeneratedRegex(@"^VSWITCH-DISK-SCAN dev=(\S+) (\S+)=(\d+) (\S+)=(\d+)$")]
    private static partial Regex Scan();

    private static Dictionary<string, (int A, int B)> Scans(VmmProcess vm) =>
        vm.Serial.Split('\n').Select(l => Scan().Match(l.TrimEnd('\r'))).Where(m => m.Success)
            .ToDictionary(m => m.Groups[1].Value, m => (int.Parse(m.Groups[3].Value), int.Parse(m.Groups[5].Value)));

    private static void AssertCleanExit(VmmProcess vm)
    {
        int exit = vm.WaitForExit(BootLimit);
        Assert.True(exit == 0, $"vmm exit {exit}\nstderr:\n{vm.Stderr}\nserial:\n{vm.Serial}");
        Assert.DoesNotContain("VSWITCH-DISK-ERROR", vm.Serial);
    }

    [Fact]
    public void Two_guests_fill_their_pool_volumes_at_once_and_neither_a_spec_nor_a_freed_extent_shows_one_the_others_bytes()
    {
        VolumeOk("init", "--size", "16M");
        VolumeOk("create", "--name", "vol-a", "--size", "8M");
        VolumeOk("create", "--name", "vol-b", "--size", "8M");
        VolumeOk("attach", "--name", "vol-a", "--vm", "vm-a");
        VolumeOk("attach", "--name", "vol-b", "--vm", "vm-b");

        // Both write at once: extents are handed out to two processes through the one journal.
        string fill = $"vsw.disks=1 vsw.disk_mb={FillMib} vsw.disk_fill=";
        using (VmmProcess a = VmmProcess.Start("--spec", Spec("vm-a", fill + TextA, "vol-a")))
        using (VmmProcess b = VmmProcess.Start("--spec", Spec("vm-b", fill + TextB, "vol-b")))
        {
            AssertCleanExit(a);
            AssertCleanExit(b);
            Assert.Contains("VSWITCH-DISK-FILLED", a.Serial);
            Assert.Contains("VSWITCH-DISK-FILLED", b.Serial);
        }
        (int exit, string check) = Volume("check");
        Assert.True(exit == 0, check);
        PoolState state = VolumePool.Replay(Pool);
        TestContext.Current.SendDiagnosticMessage($"after the fills: {check.Trim()}; data file {FileSpace.AllocatedBytes(Path.Combine(Pool, VolumePool.DataFile)) >> 20} MiB allocated");
        Assert.Equal(FillMib, state.Find("vol-a")!.MappedExtents);
        Assert.Equal(FillMib, state.Find("vol-b")!.MappedExtents);

        // B's VM naming A's volume in its spec is refused before it boots.
        using (VmmProcess thief = VmmProcess.Start("--spec", Spec("vm-b", "vsw.disks=1", "vol-a")))
        {
            Assert.Equal(2, thief.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.Contains("disks[0].volume: cannot attach vol-a in pool", thief.Stderr);
            Assert.Contains("volume 'vol-a' is not attached to VM 'vm-b'", thief.Stderr);
        }

        // A's volume goes; B's new one takes an extent in every MiB, from A's freed ones.
        long[] extentsOfA = [.. state.Find("vol-a")!.Map.Where(p => p >= 0)];
        VolumeOk("delete", "--name", "vol-a");
        VolumeOk("create", "--name", "vol-c", "--size", "8M");
        VolumeOk("attach", "--name", "vol-c", "--vm", "vm-b");
        using (VmmProcess b = VmmProcess.Start("--spec", Spec("vm-b", $"vsw.disks=2 vsw.disk_touch=1 vsw.disk_scan={TextA},{TextB}", "vol-b", "vol-c")))
        {
            AssertCleanExit(b);
            Assert.Contains("VSWITCH-DISK-TOUCHED", b.Serial);
            Dictionary<string, (int A, int B)> scans = Scans(b);
            TestContext.Current.SendDiagnosticMessage($"B's scans (lines of A's text, of B's): {string.Join(", ", scans.Select(kv => $"{kv.Key} {kv.Value}"))}");
            Assert.Equal((0, FillMib * 1048576 / (TextB.Length + 1)), scans["vda"]);
            Assert.Equal((0, 0), scans["vdb"]);
        }
        state = VolumePool.Replay(Pool);
        Assert.Equal(8, state.Find("vol-c")!.MappedExtents);
        // 10 extents were free for vol-c's 8, 6 of them A's: at least 4 of A's were reused.
        int reused = state.Find("vol-c")!.Map.Intersect(extentsOfA).Count();
        Assert.True(reused >= 4, $"vol-c reuses {reused} of A's extents");
        Assert.Equal(16 - FillMib - 8, state.FreeExtents);
        Assert.Equal(0, Volume("check").Exit);
    }

    [Fact]
    public void A_guest_makes_ext4_on_its_pool_volume_a_second_boot_reads_the_same_files_and_a_trim_frees_extents()
    {
        const int FileMib = 4;
        VolumeOk("init", "--size", "64M");
        VolumeOk("create", "--name", "vol-fs", "--size", "32M");
        VolumeOk("attach", "--name", "vol-fs", "--vm", "vm-fs");

        // Boot 1: mke2fs, a 4 MiB file of random bytes and a text file, synced, unmounted.
        string written;
        using (VmmProcess a = VmmProcess.Start("--spec", Spec("vm-fs", $"vsw.disks=1 vsw.disk=format vsw.disk_mb={FileMib}", "vol-fs")))
        {
            AssertCleanExit(a);
            written = GuestDiskTests.Field(a, "VSWITCH-DISK-WRITTEN", "sha256");
        }
        Assert.Equal(0, Volume("check").Exit);
        PoolState state = VolumePool.Replay(Pool);
        PoolVolumeInfo volume = state.Find("vol-fs")!;
        int mapped = volume.MappedExtents;
        // Thin: the file's extents and those ext4's metadata touched, not the volume's 32.
        Assert.InRange(mapped, FileMib + 1, 31);
        Assert.Equal(64 - mapped, state.FreeExtents);
        // The pool's data file holds the file system where the map says: the ext4 superblock's
        // magic (0xEF53 at byte 1080 of the volume) in the physical extent of logical extent 0.
        byte[] magic = new byte[2];
        using (FileStream data = new(Path.Combine(Pool, VolumePool.DataFile), FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            Assert.True(volume.Map[0] >= 0, "logical extent 0 of an ext4 volume was never written");
            data.Position = volume.Map[0] * state.ExtentSize + 1080;
            data.ReadExactly(magic);
        }
        Assert.Equal([0x53, 0xef], magic);

        // Boot 2: the same files; then the random file goes and fstrim hands its blocks back.
        using (VmmProcess c = VmmProcess.Start("--spec", Spec("vm-fs", "vsw.disks=1 vsw.disk=check vsw.disk_trim=1", "vol-fs")))
        {
            AssertCleanExit(c);
            Assert.Equal(written, GuestDiskTests.Field(c, "VSWITCH-DISK-READ", "sha256"));
            Assert.Equal("written_by_the_KVM_lane", GuestDiskTests.Field(c, "VSWITCH-DISK-READ", "hello"));
            Assert.Contains("VSWITCH-DISK-TRIMMED", c.Serial);
        }
        Assert.Equal(0, Volume("check").Exit);
        state = VolumePool.Replay(Pool);
        int trimmed = state.Find("vol-fs")!.MappedExtents;
        TestContext.Current.SendDiagnosticMessage($"vol-fs: {mapped} extents mapped after mke2fs and the write, {trimmed} after the trim");
        // 4 MiB of file in 1 KiB blocks covers at least 3 whole 1 MiB extents, each released whole.
        Assert.InRange(trimmed, 1, mapped - (FileMib - 1));
        Assert.Equal(64 - trimmed, state.FreeExtents);
    }
}
