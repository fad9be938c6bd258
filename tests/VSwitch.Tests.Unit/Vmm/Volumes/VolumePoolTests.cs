// The thin volume pool (Volumes/Pool): extents taken only when written, handed out once across
// processes (each VolumePool here is its own open of the journal, as another vmm's would be),
// given back zeroed, a full pool refusing the write and nothing else, a journal torn by a crash
// replaying to its last whole record, who may open a volume, external ones (a file, an NBD
// export) included, and `vmm volume import` from a file or a pipe.
using System.IO.Pipes;
using Microsoft.Win32.SafeHandles;
using VSwitch.Vmm.Cli;
using VSwitch.Vmm.Volumes;
using VSwitch.Vmm.Volumes.Pool;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Volumes;

public sealed class VolumePoolTests : IDisposable
{
    private const long Extent = 1 << 20;
    private readonly string _dir = Path.Combine(Directory.CreateTempSubdirectory("vsw-pool-").FullName, "pool");

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_dir)!, recursive: true);

    private VolumePool NewPool(int extents = 16)
    {
        VolumePool pool = VolumePool.Create(_dir, extents * Extent);
        return pool;
    }

    private static PoolVolume Attached(VolumePool pool, string name, long size, string vm = "vm1")
    {
        pool.CreateVolume(name, size);
        pool.Attach(name, vm, readOnly: false);
        return pool.OpenVolume(name, vm, readOnly: false);
    }

    private static byte[] Pattern(int length, byte seed)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
            bytes[i] = (byte)(seed + i * 7);
        return bytes;
    }

    private string ScratchFile(string name) => Path.Combine(Path.GetDirectoryName(_dir)!, name);

    /// <summary>Makes each volume, of <paramref name="size"/> bytes, attached read-write to vm1, leaving it closed for the tool to open.</summary>
    private void NewVolumes(long size, params string[] names)
    {
        using VolumePool pool = NewPool();
        foreach (string name in names)
        {
            pool.CreateVolume(name, size);
            pool.Attach(name, "vm1", readOnly: false);
        }
    }

    /// <summary>`vmm volume import --from <paramref name="from"/>` into <paramref name="volume"/>, as vm1: its exit status and stderr.</summary>
    private (int Exit, string Stderr) Import(string volume, string from)
    {
        var stderr = new StringWriter();
        int exit = VmmCommandLine.Invoke(["volume", "import", "--pool", _dir, "--name", volume, "--vm", "vm1", "--from", from], TextWriter.Null, stderr);
        return (exit, stderr.ToString());
    }

    /// <summary>
    /// <see cref="Import"/> from a pipe, named as a shell's <c>&lt;(xz -dc disk.img.xz)</c> names one
    /// (/dev/fd/N): not seekable, its size unknown until its writer, a task here, closes it.
    /// </summary>
    private async Task<(int Exit, string Stderr)> ImportThroughPipe(string volume, byte[] image)
    {
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out);
        using SafePipeHandle reading = pipe.ClientSafePipeHandle;
        Task writer = Task.Run(() =>
        {
            using (pipe)
                pipe.Write(image);
        });
        (int Exit, string Stderr) import = Import(volume, $"/dev/fd/{reading.DangerousGetHandle()}");
        // With every reading end closed, a writer the import left mid-image fails rather than waiting
        // forever; a failed import's own message says more than that writer's broken pipe.
        reading.Dispose();
        try
        {
            await writer;
        }
        catch (IOException) when (import.Exit != 0)
        {
        }
        return import;
    }

    /// <summary>The volume's first <paramref name="length"/> bytes and the extents it has taken.</summary>
    private (byte[] Bytes, int Extents) ReadBack(string volume, int length)
    {
        using VolumePool pool = VolumePool.Open(_dir);
        using PoolVolume open = pool.OpenVolume(volume, "vm1", readOnly: true);
        byte[] bytes = new byte[length];
        open.Read(0, bytes);
        return (bytes, pool.State.Find(volume)!.MappedExtents);
    }

    private long AllocatedBytes() => FileSpace.AllocatedBytes(Path.Combine(_dir, VolumePool.DataFile));

    [Fact]
    public void A_volume_takes_an_extent_only_where_it_is_written_and_reads_zeros_elsewhere()
    {
        using VolumePool pool = NewPool();
        using PoolVolume volume = Attached(pool, "vol-a", 8 * Extent);
        Assert.Equal(8 * Extent, volume.SizeBytes);
        Assert.Equal("vol-a", volume.Id);

        // 4 KiB straddling extents 2 and 3, and the volume's last sector.
        byte[] data = Pattern(4096, 1), tail = Pattern(512, 9);
        volume.Write(3 * Extent - 2048, data);
        volume.Write(8 * Extent - 512, tail);
        volume.Flush();
        PoolVolumeInfo info = pool.State.Find("vol-a")!;
        Assert.Equal(3, info.MappedExtents);
        Assert.Equal(13, pool.State.FreeExtents);

        var back = new byte[4096];
        volume.Read(3 * Extent - 2048, back);
        Assert.Equal(data, back);
        var untouched = new byte[Extent];
        volume.Read(0, untouched);
        Assert.True(untouched.All(b => b == 0));

        // Another process replaying the journal sees the same maps.
        using VolumePool again = VolumePool.Open(_dir);
        Assert.Equal(info.Map, again.State.Find("vol-a")!.Map);
    }

    [Fact]
    public void Two_processes_writing_at_once_never_get_the_same_extent()
    {
        using VolumePool first = NewPool(extents: 64);
        first.CreateVolume("a", 32 * Extent);
        first.CreateVolume("b", 32 * Extent);
        first.Attach("a", "vm-a", false);
        first.Attach("b", "vm-b", false);
        using VolumePool second = VolumePool.Open(_dir);
        using PoolVolume a = first.OpenVolume("a", "vm-a", false);
        using PoolVolume b = second.OpenVolume("b", "vm-b", false);

        Parallel.Invoke(
            () => { for (int i = 0; i < 32; i++) a.Write(i * Extent, Pattern(4096, (byte)i)); },
            () => { for (int i = 0; i < 32; i++) b.Write(i * Extent + 4096, Pattern(4096, (byte)(100 + i))); });

        PoolState replayed = VolumePool.Replay(_dir);
        long[] maps = [.. replayed.Find("a")!.Map, .. replayed.Find("b")!.Map];
        Assert.Equal(64, maps.Distinct().Count());
        Assert.Equal(0, replayed.FreeExtents);
        var back = new byte[4096];
        for (int i = 0; i < 32; i++)
        {
            a.Read(i * Extent, back);
            Assert.Equal(Pattern(4096, (byte)i), back);
            b.Read(i * Extent + 4096, back);
            Assert.Equal(Pattern(4096, (byte)(100 + i)), back);
        }
    }

    [Fact]
    public void A_deleted_volumes_extents_reach_the_next_owner_as_zeros()
    {
        using VolumePool pool = NewPool(extents: 4);
        using (PoolVolume a = Attached(pool, "a", 4 * Extent, "vm-a"))
        {
            for (int i = 0; i < 4; i++)
                a.Write(i * Extent, Pattern((int)Extent, 0x5a));
            a.Flush();
        }
        Assert.Equal(0, pool.State.FreeExtents);
        pool.DeleteVolume("a");
        Assert.Equal(4, pool.State.FreeExtents);

        using PoolVolume b = Attached(pool, "b", 4 * Extent, "vm-b");
        var block = new byte[4096];
        b.Write(0, block); // maps one of a's old extents
        var whole = new byte[4 * Extent];
        b.Read(0, whole);
        Assert.True(whole.All(x => x == 0), "a new owner read a deleted volume's bytes");
    }

    [Fact]
    public void A_full_pool_fails_the_write_that_needs_an_extent_and_keeps_its_journal_whole()
    {
        using VolumePool pool = NewPool(extents: 2);
        using PoolVolume volume = Attached(pool, "big", 8 * Extent);
        volume.Write(0, Pattern(4096, 1));
        volume.Write(Extent, Pattern(4096, 2));
        PoolException full = Assert.Throws<PoolException>(() => volume.Write(2 * Extent, Pattern(4096, 3)));
        Assert.Contains("the pool is full", full.Message);
        // What is mapped still works, and the journal replays.
        volume.Write(100, Pattern(512, 4));
        PoolState replayed = VolumePool.Replay(_dir);
        Assert.Equal(2, replayed.Find("big")!.MappedExtents);
        Assert.Equal(0, replayed.FreeExtents);
    }

    [Fact]
    public void Discarding_whole_extents_gives_them_back_and_the_data_files_space_with_them()
    {
        using VolumePool pool = NewPool();
        using PoolVolume volume = Attached(pool, "v", 8 * Extent);
        volume.Write(0, Pattern((int)(4 * Extent), 3));
        volume.Flush();
        long before = AllocatedBytes();
        Assert.True(before >= 4 * Extent, $"{before}");

        // Extents 1 and 2 whole, and half of extent 3.
        volume.Discard(Extent, 2 * Extent + Extent / 2);
        Assert.Equal(2, pool.State.Find("v")!.MappedExtents);
        Assert.Equal(14, pool.State.FreeExtents);
        Assert.True(AllocatedBytes() <= before - 2 * Extent - Extent / 2 + 65536, $"{AllocatedBytes()} of {before}");
        var back = new byte[3 * Extent];
        volume.Read(Extent, back);
        Assert.True(back.AsSpan(0, (int)(2 * Extent + Extent / 2)).ToArray().All(b => b == 0));
        Assert.Equal(Pattern((int)(4 * Extent), 3).AsSpan((int)(3 * Extent + Extent / 2)).ToArray(), back.AsSpan((int)(2 * Extent + Extent / 2)).ToArray());
    }

    [Fact]
    public void A_journal_torn_in_the_middle_of_a_record_replays_to_its_last_whole_one_and_the_next_change_repairs_it()
    {
        using (VolumePool pool = NewPool())
        {
            pool.CreateVolume("a", Extent);
            pool.CreateVolume("b", Extent);
        }
        string journal = Path.Combine(_dir, VolumePool.JournalFile);
        long whole = new FileInfo(journal).Length;
        // A crash in the middle of appending the next record: half of one.
        using (FileStream f = new(journal, FileMode.Append))
            f.Write(Pattern(PoolRecord.Size / 2, 7));

        using VolumePool reopened = VolumePool.Open(_dir);
        Assert.Equal(PoolRecord.Size / 2, reopened.TornBytes);
        Assert.Equal(["a", "b"], reopened.State.Volumes.Select(v => v.Name));
        reopened.CreateVolume("c", Extent);
        Assert.Equal(0, reopened.TornBytes);
        Assert.Equal(whole + PoolRecord.Size, new FileInfo(journal).Length);
        Assert.Equal(["a", "b", "c"], VolumePool.Replay(_dir).Volumes.Select(v => v.Name));
    }

    [Fact]
    public async Task An_image_imported_through_a_pipe_reads_back_the_same_as_from_its_file()
    {
        byte[] image = Pattern(3 * (int)Extent + 1000, 5); // a last piece shorter than a sector, too
        image.AsSpan((int)Extent, (int)Extent).Clear(); // a MiB of zeros, which takes no extent
        string file = ScratchFile("image.raw");
        File.WriteAllBytes(file, image);
        NewVolumes(4 * Extent, "from-file", "from-pipe");

        Assert.Equal((0, ""), Import("from-file", file));
        Assert.Equal((0, ""), await ImportThroughPipe("from-pipe", image));
        (byte[] fromFile, int fileExtents) = ReadBack("from-file", (int)(4 * Extent));
        (byte[] fromPipe, int pipeExtents) = ReadBack("from-pipe", (int)(4 * Extent));
        Assert.Equal(image, fromPipe[..image.Length]);
        Assert.Equal(fromFile, fromPipe);
        Assert.Equal((3, 3), (fileExtents, pipeExtents));
    }

    [Fact]
    public async Task An_image_a_byte_longer_than_its_volume_is_refused_a_file_before_any_write_a_pipe_at_the_MiB_past_the_end()
    {
        byte[] image = Pattern(2 * (int)Extent + 1, 9);
        string file = ScratchFile("image.raw");
        File.WriteAllBytes(file, image);
        NewVolumes(2 * Extent, "v");

        (int exit, string stderr) = Import("v", file);
        Assert.Equal(1, exit);
        Assert.Equal($"vmm volume: {file} is 2097153 bytes, more than volume 'v' (2097152)", stderr.Trim());
        Assert.Equal(0, ReadBack("v", 0).Extents);

        // A pipe's size shows only as it is read: the two MiBs that fit are in before the byte past them is.
        (exit, stderr) = await ImportThroughPipe("v", image);
        Assert.Equal(1, exit);
        Assert.Matches(@"^vmm volume: /dev/fd/\d+ is at least 2097153 bytes, more than volume 'v' \(2097152\)$", stderr.Trim());
        (byte[] written, int extents) = ReadBack("v", (int)(2 * Extent));
        Assert.Equal(image[..written.Length], written);
        Assert.Equal(2, extents);
        Assert.Equal(0, VmmCommandLine.Invoke(["volume", "check", "--pool", _dir], TextWriter.Null, TextWriter.Null));
    }

    [Fact]
    public void A_record_damaged_before_whole_ones_is_corruption_and_the_pool_refuses_to_open()
    {
        using (VolumePool pool = NewPool())
        {
            pool.CreateVolume("a", Extent);
            pool.CreateVolume("b", Extent);
            pool.CreateVolume("c", Extent);
        }
        string journal = Path.Combine(_dir, VolumePool.JournalFile);
        byte[] bytes = File.ReadAllBytes(journal);
        bytes[2 * PoolRecord.Size + 30] ^= 0x40; // inside b's Create record; c's stays whole
        File.WriteAllBytes(journal, bytes);

        PoolException e = Assert.Throws<PoolException>(() => VolumePool.Open(_dir));
        Assert.Contains("record 2 of pool.journal is damaged but record 3 after it is whole", e.Message);
        Assert.Equal(1, VmmCommandLine.Invoke(["volume", "check", "--pool", _dir], TextWriter.Null, TextWriter.Null));
        Assert.Equal(bytes, File.ReadAllBytes(journal)); // left as it is
    }

    [Fact]
    public void Only_the_attached_vm_opens_a_volume_and_one_vmm_at_a_time_writes_it()
    {
        using VolumePool pool = NewPool();
        pool.CreateVolume("a", Extent);
        pool.Attach("a", "vm-a", readOnly: false);
        Assert.Contains("not attached to VM 'vm-b'", Assert.Throws<PoolException>(() => pool.OpenVolume("a", "vm-b", false)).Message);
        Assert.Contains("a read-write attachment is exclusive", Assert.Throws<PoolException>(() => pool.Attach("a", "vm-b", readOnly: true)).Message);

        using (PoolVolume open = pool.OpenVolume("a", "vm-a", false))
        {
            using VolumePool other = VolumePool.Open(_dir);
            Assert.Contains("in use by another VMM", Assert.Throws<PoolException>(() => other.OpenVolume("a", "vm-a", false)).Message);
            Assert.Contains("only when that VM has stopped", Assert.Throws<PoolException>(() => other.ResizeVolume("a", 2 * Extent)).Message);
            Assert.Contains("only when that VM has stopped", Assert.Throws<PoolException>(() => other.DeleteVolume("a")).Message);
            Assert.True(other.InUse(other.State.Find("a")!));
        }
        using (VolumePool other = VolumePool.Open(_dir))
        {
            Assert.False(other.InUse(other.State.Find("a")!));
            other.ResizeVolume("a", 2 * Extent);
        }

        // Read-only attachments share.
        pool.CreateVolume("base", Extent);
        pool.Attach("base", "vm-a", readOnly: true);
        pool.Attach("base", "vm-b", readOnly: true);
        Assert.Contains("read-only: give the disk read_only: true", Assert.Throws<PoolException>(() => pool.OpenVolume("base", "vm-a", false)).Message);
        using VolumePool third = VolumePool.Open(_dir);
        using PoolVolume ra = pool.OpenVolume("base", "vm-a", true);
        using PoolVolume rb = third.OpenVolume("base", "vm-b", true);
        Assert.True(ra.ReadOnly && rb.ReadOnly);
        Assert.Equal(2 * Extent, third.State.Find("a")!.SizeBytes);
    }

    [Fact]
    public void A_file_outside_the_pool_is_reached_only_through_its_attachment_and_its_lock_goes_with_the_disk()
    {
        string image = Path.Combine(Path.GetDirectoryName(_dir)!, "a-file-volume-whose-path-is-longer-than-one-record.raw");
        File.WriteAllBytes(image, Pattern(4096, 3));
        using VolumePool pool = NewPool();
        PoolVolumeInfo made = pool.CreateExternalVolume("files-a", ExternalKind.File, image);
        Assert.Equal((ExternalKind.File, image), (made.External, made.Location));
        Assert.Contains($"{image} is already volume 'files-a'",
            Assert.Throws<PoolException>(() => pool.CreateExternalVolume("files-b", ExternalKind.File, image)).Message);
        pool.Attach("files-a", "vm-a", readOnly: false);
        var name = new PoolVolumeName(_dir, "files-a");

        Assert.Contains("not attached to VM 'vm-b'", Assert.Throws<PoolException>(() =>
            VolumePool.OpenDisk(name, "vm-b", false, "files-a", TimeSpan.Zero, _ => { })).Message);
        using (IBlockVolume disk = VolumePool.OpenDisk(name, "vm-a", false, "files-a", TimeSpan.Zero, _ => { }))
        {
            Assert.IsType<RawFileVolume>(disk);
            var read = new byte[4096];
            disk.Read(0, read);
            Assert.Equal(Pattern(4096, 3), read);
            using VolumePool other = VolumePool.Open(_dir);
            Assert.True(other.InUse(other.State.Find("files-a")!));
            Assert.Contains("in use by another VMM", Assert.Throws<PoolException>(() =>
                VolumePool.OpenDisk(name, "vm-a", false, "files-a", TimeSpan.Zero, _ => { })).Message);
            Assert.Contains("only when that VM has stopped", Assert.Throws<PoolException>(() => other.DeleteVolume("files-a")).Message);
        }
        Assert.False(pool.InUse(pool.State.Find("files-a")!));

        // The pool keeps its owners, not its bytes: no extents, no size of its own, no import.
        Assert.Contains("outside the pool: it cannot be resized", Assert.Throws<PoolException>(() => pool.ResizeVolume("files-a", 2 * Extent)).Message);
        Assert.Contains("outside the pool: it cannot be written through the pool", Assert.Throws<PoolException>(() => pool.OpenVolume("files-a", "vm-a", false)).Message);
        Assert.False(pool.InUse(pool.State.Find("files-a")!));
        PoolState replayed = VolumePool.Replay(_dir);
        Assert.Equal((ExternalKind.File, image, 0), (replayed.Find("files-a")!.External, replayed.Find("files-a")!.Location, replayed.FreeExtents - 16));
        pool.DeleteVolume("files-a");
        Assert.Equal(Pattern(4096, 3), File.ReadAllBytes(image)); // deleting the record leaves the file alone
    }

    [Theory]
    [InlineData(ExternalKind.Nbd, "http://h/e", "scheme http is not NBD's")]
    [InlineData(ExternalKind.File, "relative/disk.raw", "a file volume's path is absolute")]
    [InlineData(ExternalKind.File, "/srv/d\u00e9j\u00e0.raw", "printable ASCII")]
    [InlineData(ExternalKind.None, "/srv/a.raw", "is not an external volume")]
    public void A_location_that_cannot_be_a_volume_is_refused_before_anything_is_journalled(ExternalKind kind, string location, string why)
    {
        using VolumePool pool = NewPool();
        long journal = new FileInfo(Path.Combine(_dir, VolumePool.JournalFile)).Length;
        Assert.Contains(why, Assert.Throws<PoolException>(() => pool.CreateExternalVolume("x", kind, System.Text.RegularExpressions.Regex.Unescape(location))).Message);
        Assert.Equal(journal, new FileInfo(Path.Combine(_dir, VolumePool.JournalFile)).Length);
    }

    [Fact]
    public void An_nbd_export_whose_records_a_crash_cut_short_is_refused_not_opened_at_another_address()
    {
        const string uri = "nbd+unix:///tenant-a-data?socket=/run/vswitch/nbd/tenant-a-volumes.sock"; // 71 bytes: 3 Location records
        using (VolumePool pool = NewPool())
        {
            Assert.Equal(uri, pool.CreateExternalVolume("data", ExternalKind.Nbd, uri).Location);
            pool.Attach("data", "vm-a", readOnly: false);
        }
        // The crash: the journal as it was before the last of the location's three records.
        string journal = Path.Combine(_dir, VolumePool.JournalFile);
        byte[] bytes = File.ReadAllBytes(journal);
        int records = bytes.Length / PoolRecord.Size; // Init, External, 3 x Location, Attach
        Assert.Equal(6, records);
        File.WriteAllBytes(journal, bytes[..(4 * PoolRecord.Size)]);

        using VolumePool reopened = VolumePool.Open(_dir);
        Assert.Equal(uri[..64], reopened.State.Find("data")!.Location);
        reopened.Attach("data", "vm-a", readOnly: false);
        Assert.Contains("its location was cut short by a crash", Assert.Throws<PoolException>(() =>
            VolumePool.OpenDisk(new PoolVolumeName(_dir, "data"), "vm-a", false, "data", TimeSpan.Zero, _ => { })).Message);
    }

    [Theory]
    [InlineData(PoolRecordType.Location, 1, 32, "does not continue an external volume's location")] // a piece skipped
    [InlineData(PoolRecordType.Location, 1, 0, "does not continue")] // the first piece again
    [InlineData(PoolRecordType.Location, 0, 0, "does not continue")] // an extent volume has no location
    [InlineData(PoolRecordType.Map, 1, 0, "lives outside the pool and has no extents")]
    [InlineData(PoolRecordType.Resize, 1, 2 << 20, "lives outside the pool")]
    public void A_record_that_does_not_fit_an_external_volume_is_refused(PoolRecordType type, int slot, long a, string why)
    {
        var state = new PoolState();
        Assert.Null(state.Apply(new PoolRecord(PoolRecordType.Init, 0, Extent, 16, "", false)));
        Assert.Null(state.Apply(new PoolRecord(PoolRecordType.Create, 0, 4 * Extent, 0, "v", false)));
        Assert.Null(state.Apply(new PoolRecord(PoolRecordType.External, 1, (long)ExternalKind.File, 40, "f", false)));
        Assert.Null(state.Apply(new PoolRecord(PoolRecordType.Location, 1, 0, 0, "/srv/volumes/a-file-of-forty-bytes", false)));
        string? refused = state.Apply(new PoolRecord(type, slot, a, 0, "/a-longer-piece-than-fits", false));
        Assert.NotNull(refused);
        Assert.Contains(why, refused);
    }

    [Theory]
    [InlineData(PoolRecordType.Map, 0, 0, 99, "outside the pool or not free")]
    [InlineData(PoolRecordType.Map, 0, 5, 0, "outside it or already mapped")]
    [InlineData(PoolRecordType.Unmap, 0, 0, 3, "does not map physical extent 3")]
    [InlineData(PoolRecordType.Resize, 0, 512, 0, "volumes only grow")]
    [InlineData(PoolRecordType.Delete, 7, 0, 0, "slot 7, which holds no volume")]
    public void A_record_that_would_break_the_pool_is_refused_naming_why(PoolRecordType type, int slot, long a, long b, string why)
    {
        var state = new PoolState();
        Assert.Null(state.Apply(new PoolRecord(PoolRecordType.Init, 0, Extent, 16, "", false)));
        Assert.Null(state.Apply(new PoolRecord(PoolRecordType.Create, 0, 4 * Extent, 0, "v", false)));
        Assert.Null(state.Apply(new PoolRecord(PoolRecordType.Map, 0, 1, 0, "", false)));
        string? refused = state.Apply(new PoolRecord(type, slot, a, b, "", false));
        Assert.NotNull(refused);
        Assert.Contains(why, refused);
        Assert.Equal(3, state.Records);
    }
}
