// A volume pool across a power cut. The pool lives on ext4 on a dm-flakey device (the
// device-mapper target for failing disks, Linux Documentation/admin-guide/device-mapper/
// dm-flakey.rst). While `vmm volume import` writes a volume into extents a deleted volume left
// behind, the device starts dropping every write while still reporting success (drop_writes):
// what the disk holds at that instant is all there will ever be, as after a power cut. The file
// system is then unmounted, the device put back to a plain mapping and mounted again. The pool
// must check out, and each 4 KiB block of the volume must read either the image's bytes or zeros,
// never a byte of the deleted volume. That holds only if every punch and journal record reached
// the disk (fdatasync) in the order VolumePool.cs says. Last, an import that has finished is cut
// right after: it reads back whole, as the tool's exit 0 promised. And a guest: it makes ext4 on
// its pool volume, writes files, syncs and unmounts, and the power goes the moment it says so,
// its VMM killed with it; after the cut a second boot reads the same files, because every FLUSH
// the guest sent was answered only after fdatasync.
//
// Root and the loop and dm-flakey modules are needed: the KVM sandbox loads them (tests/kvm/sandbox),
// and on a host with /dev/kvm the test asks modprobe.
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using VSwitch.Vmm.Volumes.Pool;
using Xunit;

namespace VSwitch.Tests.Kvm.Vmm;

public sealed class PoolPowerCutTests : IDisposable
{
    private const int ImageMib = 24, DeviceMib = 96, Cuts = 3;
    private const int Block = 4096;
    private static readonly TimeSpan CommandLimit = TimeSpan.FromSeconds(120);
    // A boot with mke2fs takes 20-60 s in the one-vCPU TCG sandbox; the bound only catches a hang.
    private static readonly TimeSpan BootLimit = TimeSpan.FromSeconds(240);

    private readonly string _dir = Directory.CreateTempSubdirectory("vsw-powercut-").FullName;
    private readonly string _dmName = $"vswpc{Environment.ProcessId}";
    private string? _loop;
    private long _sectors;
    private string Mount => Path.Combine(_dir, "mnt");
    private string Pool => Path.Combine(Mount, "pool");
    private string DmDevice => $"/dev/mapper/{_dmName}";

    public void Dispose()
    {
        Run(false, "umount", Mount);
        Run(false, "dmsetup", "--noudevsync", "remove", _dmName);
        if (_loop is not null)
            Run(false, "losetup", "-d", _loop);
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Runs a command; with <paramref name="check"/>, fails the test unless it exits 0. Returns its output.</summary>
    private static string Run(bool check, string file, params string[] args)
    {
        (int exit, string output) = ToolRun.ToEnd(file, args, CommandLimit);
        if (check)
            Assert.True(exit == 0, $"{file} {string.Join(' ', args)}: exit {exit}\n{output}");
        return output;
    }

    /// <summary>Points the device-mapper device at the loop device: plain (linear), or dropping every write (flakey, down for good).</summary>
    private void Table(bool dropWrites)
    {
        string table = dropWrites ? $"0 {_sectors} flakey {_loop} 0 0 3600 1 drop_writes" : $"0 {_sectors} linear {_loop} 0";
        // --noflush: I/O in flight at the cut goes to the new table, and is lost like the rest.
        Run(true, "dmsetup", "--noudevsync", "suspend", "--noflush", "--nolockfs", _dmName);
        Run(true, "dmsetup", "--noudevsync", "load", _dmName, "--table", table);
        Run(true, "dmsetup", "--noudevsync", "resume", _dmName);
    }

    private void SetUpDevice()
    {
        if (!Directory.Exists("/sys/module/dm_flakey") || !Directory.Exists("/sys/module/loop"))
            Run(false, "modprobe", "-a", "loop", "dm-flakey");
        Assert.True(Directory.Exists("/sys/module/dm_flakey"),
            "the dm-flakey module is not loaded and modprobe could not load it: the power-cut test needs root and the kernel's dm-flakey (tests/kvm/sandbox loads it in the sandbox)");
        string backing = Path.Combine(_dir, "disk.img");
        using (FileStream file = File.Create(backing))
            file.SetLength((long)DeviceMib << 20);
        _sectors = ((long)DeviceMib << 20) / 512;
        _loop = Run(true, "losetup", "--find", "--show", backing).Trim();
        Run(true, "dmsetup", "--noudevsync", "create", _dmName, "--table", $"0 {_sectors} linear {_loop} 0");
        // Without udev (the sandbox runs none) nothing makes /dev/mapper/NAME but this.
        Run(true, "dmsetup", "mknodes", _dmName);
        // 4 KiB blocks, a page each: a block reaches the disk whole or not at all, so the check
        // below can ask each 4 KiB of the volume to be all image or all zeros.
        Run(true, "mkfs.ext4", "-q", "-F", "-b", "4096", DmDevice);
        Directory.CreateDirectory(Mount);
        Run(true, "mount", "-t", "ext4", DmDevice, Mount);
    }

    [Fact]
    public async Task A_power_cut_during_an_import_leaves_a_pool_that_checks_out_and_a_volume_of_image_bytes_or_zeros()
    {
        SetUpDevice();
        byte[] image = RandomNumberGenerator.GetBytes(ImageMib << 20);
        string imagePath = Path.Combine(_dir, "image.raw");
        await File.WriteAllBytesAsync(imagePath, image);
        byte[] oldText = Encoding.ASCII.GetBytes("OLD-VOLUME-7e21");
        string oldPath = Path.Combine(_dir, "old.raw");
        byte[] old = new byte[ImageMib << 20];
        for (int i = 0; i < old.Length; i++)
            old[i] = oldText[i % oldText.Length];
        await File.WriteAllBytesAsync(oldPath, old);
        ToolRun.VolumeOk(Pool, "init", "--size", "32M");

        var random = new Random(20261206);
        var story = new List<string>();
        for (int cut = 0; cut < Cuts; cut++)
        {
            // The deleted volume's extents are what the import takes next: its text must never come back.
            ToolRun.VolumeOk(Pool, "create", "--name", "old", "--size", $"{ImageMib}M");
            ToolRun.VolumeOk(Pool, "attach", "--name", "old", "--vm", "old-vm");
            ToolRun.VolumeOk(Pool, "import", "--name", "old", "--vm", "old-vm", "--from", oldPath);
            ToolRun.VolumeOk(Pool, "delete", "--name", "old");
            ToolRun.VolumeOk(Pool, "create", "--name", "vol", "--size", $"{ImageMib}M");
            ToolRun.VolumeOk(Pool, "attach", "--name", "vol", "--vm", "importer");

            string journal = Path.Combine(Pool, VolumePool.JournalFile);
            int records = random.Next(1, ImageMib - 2);
            long target = new FileInfo(journal).Length + records * PoolRecord.Size;
            using (Process import = Process.Start(VmmProcess.StartInfo(["volume", "import", "--pool", Pool, "--name", "vol", "--vm", "importer", "--from", imagePath]))!)
            {
                var clock = Stopwatch.StartNew();
                while (new FileInfo(journal).Length < target && !import.HasExited && clock.Elapsed < CommandLimit)
                    await Task.Delay(1);
                Table(dropWrites: true);
                // The import goes on, told that every write and fdatasync succeeded.
                Assert.True(import.WaitForExit(CommandLimit), "the import did not end after the cut");
            }
            await RemountAfterTheCutAsync();

            ToolRun.VolumeOk(Pool, "check");
            PoolState state = VolumePool.Replay(Pool);
            Assert.Equal(state.ExtentCount, state.FreeExtents + state.Volumes.Sum(v => (long)v.MappedExtents));
            Assert.Null(state.Find("old"));
            (int imageBlocks, int zeroBlocks) = CheckVolume(image, oldText);
            story.Add($"cut {cut}: after {records} records; {state.Find("vol")?.MappedExtents ?? 0} extents mapped after the cut, {imageBlocks} image blocks, {zeroBlocks} zero blocks");
            ToolRun.VolumeOk(Pool, "delete", "--name", "vol");
        }

        // An import that finished (its data and journal flushed) survives a cut right after it, whole.
        ToolRun.VolumeOk(Pool, "create", "--name", "vol", "--size", $"{ImageMib}M");
        ToolRun.VolumeOk(Pool, "attach", "--name", "vol", "--vm", "importer");
        ToolRun.VolumeOk(Pool, "import", "--name", "vol", "--vm", "importer", "--from", imagePath);
        Table(dropWrites: true);
        await RemountAfterTheCutAsync();
        ToolRun.VolumeOk(Pool, "check");
        Assert.Equal(((ImageMib << 20) / Block, 0), CheckVolume(image, oldText));
        TestContext.Current.SendDiagnosticMessage($"power cuts: {string.Join("; ", story)}; a finished import read back whole after a cut");
    }

    [Fact]
    public async Task What_a_guest_flushed_before_a_power_cut_is_there_after_it()
    {
        SetUpDevice();
        ToolRun.VolumeOk(Pool, "init", "--size", "32M");
        ToolRun.VolumeOk(Pool, "create", "--name", "gvol", "--size", "16M");
        ToolRun.VolumeOk(Pool, "attach", "--name", "gvol", "--vm", "flusher");
        string disks = GuestSpec.PoolDisks(Pool, "gvol");
        string written;
        using (VmmProcess vm = VmmProcess.Start("--spec", GuestSpec.Write(_dir, "flusher-1", "vsw.disks=1 vsw.disk=format vsw.disk_mb=4", disks, "flusher")))
        {
            // mke2fs, 4 MiB each synced on its own, sync and umount: the guest flushed all of it
            // before it printed this line. The power goes at once; the VMM dies with it (SIGKILL).
            vm.WaitForSerialLine(l => l.StartsWith("VSWITCH-DISK-WRITTEN ", StringComparison.Ordinal), BootLimit);
            Table(dropWrites: true);
            written = GuestDiskTests.Field(vm, "VSWITCH-DISK-WRITTEN", "sha256");
        }
        await RemountAfterTheCutAsync();
        ToolRun.VolumeOk(Pool, "check");

        using VmmProcess again = VmmProcess.Start("--spec", GuestSpec.Write(_dir, "flusher-2", "vsw.disks=1 vsw.disk=check", disks, "flusher"));
        int exit = again.WaitForExit(BootLimit);
        Assert.True(exit == 0, $"vmm exit {exit}\nstderr:\n{again.Stderr}\nserial:\n{again.Serial}");
        Assert.Equal(written, GuestDiskTests.Field(again, "VSWITCH-DISK-READ", "sha256"));
        Assert.Equal("written_by_the_KVM_lane", GuestDiskTests.Field(again, "VSWITCH-DISK-READ", "hello"));
        TestContext.Current.SendDiagnosticMessage($"after the cut: {VolumePool.Replay(Pool).Find("gvol")!.MappedExtents} extents of gvol mapped, the guest's files read back");
    }

    /// <summary>Unmounts (every write now lost), puts the plain mapping back and mounts what the disk holds.</summary>
    private async Task RemountAfterTheCutAsync()
    {
        Run(true, "umount", Mount);
        // Nothing the kernel still caches for the device may stand in for what it holds.
        Run(true, "blockdev", "--flushbufs", DmDevice);
        Table(dropWrites: false);
        await File.WriteAllTextAsync("/proc/sys/vm/drop_caches", "3");
        Run(true, "mount", "-t", "ext4", DmDevice, Mount);
    }

    /// <summary>Every 4 KiB block of "vol" (if it survived the cut) is the image's block or zeros; returns how many of each.</summary>
    private (int Image, int Zero) CheckVolume(byte[] image, byte[] oldText)
    {
        using VolumePool pool = VolumePool.Open(Pool);
        if (pool.State.Find("vol") is null)
            return (0, (ImageMib << 20) / Block);
        using PoolVolume volume = pool.OpenVolume("vol", "importer", readOnly: true);
        byte[] back = new byte[image.Length];
        volume.Read(0, back);
        int imageBlocks = 0, zeroBlocks = 0;
        for (int offset = 0; offset < back.Length; offset += Block)
        {
            ReadOnlySpan<byte> block = back.AsSpan(offset, Block);
            if (block.SequenceEqual(image.AsSpan(offset, Block)))
                imageBlocks++;
            else if (!block.ContainsAnyExcept((byte)0))
                zeroBlocks++;
            else
                Assert.Fail($"block at {offset} of vol is neither the image's nor zeros" +
                    (block.IndexOf(oldText.AsSpan(0, 8)) >= 0 ? ": it holds the deleted volume's text" : ""));
        }
        return (imageBlocks, zeroBlocks);
    }
}
