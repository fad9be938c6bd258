// Network volumes against a real nbd-server (Debian's): the handshake and NBD_OPT_GO, reads and
// writes in pieces, flush, zeroing that frees the export file's blocks, and what happens when the
// server goes away: a restart in the middle of a stream of writes costs the writer nothing (every
// write lands, in order, byte for byte), a server that stays away fails the request after the
// reconnect limit, and the next request, once it is back, succeeds. No KVM needed: the test
// drives the volume as the VMM's block queues do.
using System.Diagnostics;
using System.Security.Cryptography;
using VSwitch.Tests.Integration.Infrastructure;
using VSwitch.Tests.Kvm.Vmm;
using VSwitch.Tests.Unit.Vmm.Volumes;
using VSwitch.Vmm.Volumes.Nbd;
using Xunit;

namespace VSwitch.Tests.Integration.Vmm;

public sealed class NbdVolumeTests : IAsyncLifetime
{
    private const long VolumeBytes = 64L << 20;
    private static readonly TimeSpan s_reconnectLimit = TimeSpan.FromSeconds(30);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vsw-nbd-");
    private readonly List<string> _log = [];
    private string ExportFile => Path.Combine(_dir.FullName, "vol.img");
    private NbdServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        await Prerequisites.RequireRootAndToolsAsync("network volumes", new Prerequisites.Tool("nbd-server", "nbd-server", ["-V"], "nbd-server"));
        using (FileStream f = File.Create(ExportFile))
            f.SetLength(VolumeBytes);
        _server = await NbdServer.StartAsync(_dir.FullName, ExportFile);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _dir.Delete(recursive: true);
    }

    private NbdVolume Open(TimeSpan? reconnectLimit = null, bool readOnly = false) =>
        NbdVolume.Open(NbdAddress.Parse(_server.Uri), "data", readOnly, reconnectLimit ?? s_reconnectLimit, line => { lock (_log) _log.Add(line); });

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private byte[] FileBytes(long offset, int length)
    {
        var bytes = new byte[length];
        using FileStream f = new(ExportFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        f.Position = offset;
        f.ReadExactly(bytes);
        return bytes;
    }

    [Fact]
    public void Writes_reach_the_export_file_and_reads_return_them_in_pieces_larger_than_one_request()
    {
        using NbdVolume volume = Open();
        Assert.Equal(VolumeBytes, volume.SizeBytes);
        Assert.Equal("data", volume.Id);
        // 3 MiB + 512 crosses the 1 MiB request size three times; the last sector of the volume too.
        byte[] big = Pattern((3 << 20) + 512, 1), tail = Pattern(512, 2);
        volume.Write(4096, big);
        volume.Write(VolumeBytes - 512, tail);
        volume.Flush();
        Assert.Equal(big, FileBytes(4096, big.Length));
        Assert.Equal(tail, FileBytes(VolumeBytes - 512, 512));
        var back = new byte[big.Length];
        volume.Read(4096, back);
        Assert.Equal(big, back);
        Assert.Equal(0, volume.Reconnects);
    }

    [Fact]
    public void A_discard_frees_the_export_files_blocks_and_write_zeroes_reads_as_zeros()
    {
        using NbdVolume volume = Open();
        byte[] data = Pattern(8 << 20, 3);
        volume.Write(16 << 20, data);
        volume.Flush();
        long written = AllocatedBytes(ExportFile);
        Assert.True(written >= 8 << 20, $"the export file holds {written} bytes after an 8 MiB write");

        volume.Discard(16 << 20, 8 << 20);
        volume.Flush();
        long after = AllocatedBytes(ExportFile);
        Assert.True(after <= written - (7 << 20), $"discarding 8 MiB left the export file at {after} bytes allocated (was {written})");

        // Write-zeroes, with and without leave to free the space: zeros either way.
        volume.Write(32 << 20, data);
        volume.Zero(32 << 20, 1 << 20, release: false);
        volume.Zero(38 << 20, 1 << 20, release: true);
        Assert.True(FileBytes(38 << 20, 1 << 20).All(b => b == 0));
        Assert.True(FileBytes(32 << 20, 1 << 20).All(b => b == 0));
        Assert.Equal(data.AsSpan(1 << 20, 5 << 20).ToArray(), FileBytes((32 << 20) + (1 << 20), 5 << 20));
    }

    [Fact]
    public async Task A_server_restart_in_the_middle_of_a_stream_of_writes_loses_none_of_them()
    {
        using NbdVolume volume = Open();
        const int Chunk = 256 << 10, Chunks = 160; // 40 MiB
        byte[] stream = Pattern(Chunk * Chunks, 4);
        int written = 0;
        Task writer = Task.Run(() =>
        {
            for (int i = 0; i < Chunks; i++)
            {
                volume.Write((long)i * Chunk, stream.AsSpan(i * Chunk, Chunk));
                Volatile.Write(ref written, i + 1);
            }
            volume.Flush();
        });
        // Kill the server a quarter of the way in, and start it again a moment later.
        var clock = Stopwatch.StartNew();
        while (Volatile.Read(ref written) < Chunks / 4 && !writer.IsCompleted)
            await Task.Delay(1);
        int atKill = Volatile.Read(ref written);
        await _server.KillAsync();
        await Task.Delay(500);
        await _server.StartAgainAsync();
        await writer.WaitAsync(TimeSpan.FromSeconds(120));
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"killed nbd-server after {atKill} of {Chunks} writes; all done in {clock.ElapsedMilliseconds} ms with {volume.Reconnects} reconnect(s), {volume.Retries} request(s) sent again\n{string.Join("\n", _log)}");

        Assert.True(atKill < Chunks, "the writer finished before the server was killed: the restart tested nothing");
        Assert.Equal(1, volume.Reconnects);
        Assert.Equal(1, volume.Retries);
        Assert.Equal(SHA256.HashData(stream), SHA256.HashData(FileBytes(0, stream.Length)));
    }

    [Fact]
    public async Task A_server_that_stays_away_fails_the_request_after_the_limit_and_the_next_request_succeeds_once_it_is_back()
    {
        using NbdVolume volume = Open(reconnectLimit: TimeSpan.FromSeconds(2));
        await _server.KillAsync();
        var clock = Stopwatch.StartNew();
        IOException e = Assert.ThrowsAny<IOException>(() => volume.Write(0, Pattern(4096, 5)));
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.0, 10.0);
        Assert.Contains("unreachable", e.Message);

        await _server.StartAgainAsync();
        byte[] data = Pattern(4096, 6);
        volume.Write(0, data);
        volume.Flush();
        Assert.Equal(data, FileBytes(0, 4096));
    }

    [Fact]
    public async Task Attaching_fails_with_the_servers_reason_an_unknown_export_a_read_only_export_or_no_server()
    {
        var unknown = Assert.ThrowsAny<IOException>(() =>
            NbdVolume.Open(NbdAddress.Parse($"nbd+unix:///nope?socket={_server.Socket}"), "x", false, s_reconnectLimit, _ => { }));
        Assert.Contains("NBD_REP_ERR_UNKNOWN", unknown.Message);

        await using NbdServer readOnly = await NbdServer.StartAsync(_dir.FullName, ExportFile, "ro", readOnly: true);
        var address = NbdAddress.Parse(readOnly.Uri);
        var refused = Assert.ThrowsAny<IOException>(() => NbdVolume.Open(address, "x", false, s_reconnectLimit, _ => { }));
        Assert.Contains("read-only", refused.Message);
        using (NbdVolume ro = NbdVolume.Open(address, "x", true, s_reconnectLimit, _ => { }))
            Assert.True(ro.ReadOnly);

        await _server.KillAsync();
        var absent = Assert.ThrowsAny<IOException>(() => Open());
        Assert.Contains("cannot connect", absent.Message);
    }

    private static long AllocatedBytes(string path) => FileSpace.AllocatedBytes(path);
}
