// A stock Debian guest on the VMM's virtio-blk (docs/vmm.md, "Disks"): it makes ext4 on its
// volume, writes files and reports their sha256; a second boot on the same volume reads the same
// sha256, then deletes a file and trims, and the volume's file gives the space back. While the
// first VM holds its volume read-write, a second VMM naming it is refused before it boots. A
// read-only disk shows read-only in the guest, which cannot write it, and reads what the host put
// there. The same file-system test runs on a network volume, an export of a real nbd-server
// that is a pool volume attached to one VM (another VM naming it is refused), and that is killed
// and started again while the guest writes: the guest sees no error, and the second boot reads
// what the first wrote. The guest reports everything it saw on its console
// (tests/kvm/guest-vm/init).
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VSwitch.Tests.Unit.Vmm.Volumes;
using Xunit;

namespace VSwitch.Tests.Kvm.Vmm;

public sealed partial class GuestDiskTests : IDisposable
{
    // A boot with module loading and mke2fs on 64 MiB takes 20-60 s in the one-vCPU TCG sandbox;
    // the bound is only there so a hang fails the test.
    private static readonly TimeSpan BootLimit = TimeSpan.FromSeconds(240);
    private const long VolumeBytes = 64L << 20;
    private const int BaseBytes = 1 << 20;

    private readonly string _dir = Directory.CreateTempSubdirectory("vsw-disk-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Spec(string name, string parameters, params (string Path, string Id, bool ReadOnly)[] disks) =>
        SpecWith(name, parameters, string.Join(", ", disks.Select(d => $$"""{"path": "{{d.Path}}", "id": "{{d.Id}}", "read_only": {{(d.ReadOnly ? "true" : "false")}}}""")));

    private string SpecWith(string name, string parameters, string list, string? vm = null, int vcpus = 1) =>
        GuestSpec.Write(_dir, name, parameters, list, vm, vcpus);

    [GeneratedRegex(@"^VSWITCH-DISK-INFO dev=(\S+) sectors=(\d+) serial=(\S*) ro=(\d)$")]
    private static partial Regex DiskInfo();

    private static List<Match> Lines(VmmProcess vm, Regex pattern) =>
        [.. vm.Serial.Split('\n').Select(l => pattern.Match(l.TrimEnd('\r'))).Where(m => m.Success)];

    internal static string Field(VmmProcess vm, string prefix, string field)
    {
        string? line = vm.Serial.Split('\n').Select(l => l.TrimEnd('\r')).FirstOrDefault(l => l.StartsWith(prefix + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no {prefix} line.\nstderr:\n{vm.Stderr}\nserial:\n{vm.Serial}");
        Match value = Regex.Match(line, $@"\b{field}=(\S*)");
        Assert.True(value.Success, $"{prefix} has no {field}=: {line}");
        return value.Groups[1].Value;
    }

    private static void AssertCleanExit(VmmProcess vm, int exitCode)
    {
        Assert.True(exitCode == 0, $"vmm exit {exitCode}\nstderr:\n{vm.Stderr}\nserial:\n{vm.Serial}");
        Assert.Contains("reason=poweroff exit=0", vm.Stderr);
        Assert.DoesNotContain("VSWITCH-DISK-ERROR", vm.Serial);
    }

    private static long AllocatedBytes(string path) => FileSpace.AllocatedBytes(path);

    [Fact]
    public void A_guest_makes_ext4_on_its_volume_and_a_second_boot_reads_the_same_files()
    {
        string volume = Path.Combine(_dir, "vol-a.img");
        using (FileStream file = File.Create(volume))
            file.SetLength(VolumeBytes); // sparse: nothing allocated until the guest writes
        string baseImage = Path.Combine(_dir, "base.img");
        byte[] baseBytes = RandomNumberGenerator.GetBytes(BaseBytes);
        File.WriteAllBytes(baseImage, baseBytes);

        // Boot 1: format and write, holding after the disks are probed.
        string written;
        using (VmmProcess a = VmmProcess.Start("--spec", Spec("a", "vsw.disks=2 vsw.disk_hold=1 vsw.disk=format",
                   (volume, "vol-a", false), (baseImage, "base", true))))
        {
            a.WaitForSerialLine(l => l == "VSWITCH-DISK-HOLD", BootLimit);
            List<Match> info = Lines(a, DiskInfo());
            Assert.Equal(["vda 131072 vol-a 0", "vdb 2048 base 1"],
                info.Select(m => $"{m.Groups[1]} {m.Groups[2]} {m.Groups[3]} {m.Groups[4]}"));
            Assert.Equal("1", Field(a, "VSWITCH-DISK-RO", "write_refused"));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(baseBytes)), Field(a, "VSWITCH-DISK-RO", "head_sha256"));

            // A has vol-a read-write: another VMM naming it is refused before it boots.
            using (VmmProcess b = VmmProcess.Start("--spec", Spec("b", "vsw.disks=1", (volume, "vol-a", false))))
            {
                Assert.Equal(2, b.WaitForExit(TimeSpan.FromSeconds(60)));
                Assert.Contains("disks[0].path: cannot attach", b.Stderr);
                Assert.Contains("another VMM may have it attached", b.Stderr);
            }

            a.ConsoleInput("go");
            AssertCleanExit(a, a.WaitForExit(BootLimit));
            written = Field(a, "VSWITCH-DISK-WRITTEN", "sha256");
            TestContext.Current.SendDiagnosticMessage($"format and write took {Field(a, "VSWITCH-DISK-WRITTEN", "ms")} ms in the guest");

            JsonNode statistics = a.Statistics();
            TestContext.Current.SendDiagnosticMessage($"a: vmm: statistics {statistics.ToJsonString()}");
            JsonNode disks = statistics["disks"]!;
            JsonNode requests = disks[0]!["requests"]!;
            Assert.True((long)requests["ok"]! > 0, disks.ToJsonString());
            Assert.True((long)disks[0]!["flushes"]! > 0, $"ext4's journal and sync flush, but the device saw no FLUSH: {disks.ToJsonString()}");
            Assert.True((long)disks[0]!["written_bytes"]! >= 1 << 20, disks.ToJsonString());
            foreach (string refusal in new[] { "io_error", "out_of_range", "unaligned", "read_only", "malformed", "no_status_byte" })
                Assert.Equal(0L, (long)requests[refusal]!);
            // The guest's kernel refuses writes to a read-only disk itself: the device never saw one.
            Assert.Equal(0L, (long)disks[1]!["requests"]!["read_only"]!);
            Assert.Equal(0L, (long)disks[1]!["written_bytes"]!);
        }

        // The host sees an ext4 volume (the superblock's magic 0xEF53 at byte 1080), thin.
        byte[] superblock = new byte[2];
        using (FileStream file = File.OpenRead(volume))
        {
            file.Position = 1080;
            file.ReadExactly(superblock);
        }
        Assert.Equal([0x53, 0xef], superblock);
        long allocated = AllocatedBytes(volume);
        Assert.InRange(allocated, 1L << 20, VolumeBytes - 1);
        Assert.Equal(baseBytes, File.ReadAllBytes(baseImage));

        // Boot 2: the same volume with two request queues on two vCPUs (virtio-blk multiqueue):
        // reads from both CPUs at once, then the files read back, then delete and trim.
        using VmmProcess c = VmmProcess.Start("--spec", SpecWith("c", "vsw.disks=1 vsw.disk_mq=1 vsw.disk=check vsw.disk_trim=1",
            $$"""{"path": "{{volume}}", "id": "vol-a", "queues": 2}""", vcpus: 2));
        AssertCleanExit(c, c.WaitForExit(BootLimit));
        Assert.Equal("2", Field(c, "VSWITCH-DISK-MQ", "hw_queues"));
        long[] perQueue = [.. c.Statistics()["disks"]![0]!["queue_requests"]!.AsArray().Select(n => (long)n!)];
        TestContext.Current.SendDiagnosticMessage($"c: requests per queue {string.Join(", ", perQueue)}");
        Assert.Equal(2, perQueue.Length);
        // Each CPU's 2048 direct reads, made side by side, went down its own queue, besides
        // whatever else the guest did. Two queues completing at once is what lost an interrupt
        // when each I/O thread pulsed the GSI itself (Machine/DeviceInterrupt.cs): the guest hung.
        Assert.All(perQueue, n => Assert.True(n >= 2048, $"a queue served {n} requests: {string.Join(", ", perQueue)}"));
        Assert.Equal(written, Field(c, "VSWITCH-DISK-READ", "sha256"));
        Assert.Equal("written_by_the_KVM_lane", Field(c, "VSWITCH-DISK-READ", "hello"));
        Assert.Contains("VSWITCH-DISK-TRIMMED", c.Serial);
        long trimmed = AllocatedBytes(volume);
        TestContext.Current.SendDiagnosticMessage($"vol-a allocated {allocated >> 10} KiB after the write, {trimmed >> 10} KiB after the trim");
        Assert.True(trimmed <= allocated - (1L << 20) + (256 << 10),
            $"deleting 1 MiB and trimming left {trimmed} bytes allocated, {allocated} before");
    }

    [Fact]
    public async Task A_guest_makes_ext4_on_an_nbd_volume_through_an_nbd_server_restart_and_a_second_boot_reads_the_same_files()
    {
        string export = Path.Combine(_dir, "nbd-vol.img");
        using (FileStream file = File.Create(export))
            file.SetLength(VolumeBytes);
        await using NbdServer server = await NbdServer.StartAsync(_dir, export, "nbd-vol");
        // The export is a volume of a pool, which records its owner: naming it is not enough.
        string pool = Path.Combine(_dir, "pool");
        ToolRun.VolumeOk(pool, "init", "--size", "1M");
        ToolRun.VolumeOk(pool, "create", "--name", "nbd-vol", "--nbd", server.Uri);
        ToolRun.VolumeOk(pool, "attach", "--name", "nbd-vol", "--vm", "nbd-vm");
        string disk = $$"""{"pool": "{{pool}}", "volume": "nbd-vol"}""";
        using (VmmProcess thief = VmmProcess.Start("--spec", SpecWith("nbd-thief", "vsw.disks=1", disk, vm: "other-vm")))
        {
            Assert.Equal(2, thief.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.Contains("volume 'nbd-vol' is not attached to VM 'other-vm'", thief.Stderr);
        }

        // Boot 1: format, then 8 MiB in synced 1 MiB writes; nbd-server is killed (with the
        // connection it serves) once the writes start, and comes back 2 s later.
        string written;
        using (VmmProcess a = VmmProcess.Start("--spec", SpecWith("nbd-a", "vsw.disks=1 vsw.disk=format vsw.disk_mb=8", disk, vm: "nbd-vm")))
        {
            a.WaitForSerialLine(l => l == "VSWITCH-DISK-WRITING", BootLimit);
            await server.KillAsync();
            await Task.Delay(2000);
            await server.StartAgainAsync();
            AssertCleanExit(a, a.WaitForExit(BootLimit));
            written = Field(a, "VSWITCH-DISK-WRITTEN", "sha256");
            Assert.DoesNotContain("I/O error", a.Serial);
            JsonNode statistics = a.Statistics()["disks"]![0]!;
            TestContext.Current.SendDiagnosticMessage($"nbd-a: disk {statistics.ToJsonString()}; format and write took {Field(a, "VSWITCH-DISK-WRITTEN", "ms")} ms in the guest");
            Assert.Equal("nbd-vol", (string?)statistics["id"]);
            Assert.Equal(1L, (long)statistics["nbd"]!["reconnects"]!);
            Assert.True((long)statistics["nbd"]!["retries"]! >= 1, statistics.ToJsonString());
            Assert.Equal(0L, (long)statistics["requests"]!["io_error"]!);
            Assert.True((long)statistics["written_bytes"]! >= 8 << 20, statistics.ToJsonString());
            Assert.Contains("reconnected to nbd+unix:///nbd-vol", a.Stderr);
        }

        // The export file holds an ext4 volume (superblock magic 0xEF53 at byte 1080).
        byte[] superblock = new byte[2];
        using (FileStream file = new(export, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            file.Position = 1080;
            file.ReadExactly(superblock);
        }
        Assert.Equal([0x53, 0xef], superblock);

        // Boot 2 over a new connection: the same files.
        using VmmProcess c = VmmProcess.Start("--spec", SpecWith("nbd-c", "vsw.disks=1 vsw.disk=check", disk, vm: "nbd-vm"));
        AssertCleanExit(c, c.WaitForExit(BootLimit));
        Assert.Equal(written, Field(c, "VSWITCH-DISK-READ", "sha256"));
        Assert.Equal("written_by_the_KVM_lane", Field(c, "VSWITCH-DISK-READ", "hello"));
    }
}
