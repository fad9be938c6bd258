// A raw-file volume: the attachment lock that keeps two VMMs from writing one volume, the sizes
// it refuses, and discard giving the file's space back.
using VSwitch.Vmm.Volumes;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Volumes;

public sealed class RawFileVolumeTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("vsw-volume-").FullName;
    private readonly string _path;

    public RawFileVolumeTests()
    {
        _path = Path.Combine(_folder, "vol.img");
        using FileStream file = File.Create(_path);
        file.SetLength(4 << 20);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_read_write_attachment_is_exclusive_and_read_only_ones_share()
    {
        using (RawFileVolume writer = RawFileVolume.Open(_path, "v", readOnly: false))
        {
            IOException second = Assert.Throws<IOException>(() => RawFileVolume.Open(_path, "v", readOnly: false));
            Assert.Contains("another VMM may have it attached", second.Message);
            Assert.Throws<IOException>(() => RawFileVolume.Open(_path, "v", readOnly: true));
        }
        using RawFileVolume first = RawFileVolume.Open(_path, "v", readOnly: true);
        using RawFileVolume shared = RawFileVolume.Open(_path, "v", readOnly: true);
        Assert.True(shared.ReadOnly);
        Assert.Throws<IOException>(() => RawFileVolume.Open(_path, "v", readOnly: false));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1000L)]
    public void A_file_that_is_not_whole_sectors_is_refused(long size)
    {
        File.WriteAllBytes(_path, new byte[size]);
        IOException e = Assert.Throws<IOException>(() => RawFileVolume.Open(_path, "v", readOnly: false));
        Assert.Contains($"is {size} bytes; a volume is a whole number of 512-byte sectors", e.Message);
    }

    [Fact]
    public void Writes_read_back_and_zeroing_with_release_gives_the_space_back()
    {
        byte[] data = [.. Enumerable.Range(0, 1 << 20).Select(i => (byte)(i | 1))];
        using RawFileVolume volume = RawFileVolume.Open(_path, "v", readOnly: false);
        volume.Write(1 << 20, data);
        volume.Flush();
        long allocated = AllocatedBytes();
        Assert.True(allocated >= 1 << 20, $"{allocated} bytes allocated after a 1 MiB write");
        byte[] back = new byte[data.Length];
        volume.Read(1 << 20, back);
        Assert.Equal(data, back);

        volume.Zero(1 << 20, 1 << 20, release: true);
        volume.Read(1 << 20, back);
        Assert.All(back, b => Assert.Equal(0, b));
        Assert.True(AllocatedBytes() <= allocated - (1 << 20), $"{AllocatedBytes()} bytes still allocated after the discard, {allocated} before");

        volume.Write(0, data.AsSpan(0, 4096));
        volume.Zero(0, 4096, release: false);
        volume.Read(0, back.AsSpan(0, 4096));
        Assert.All(back.AsSpan(0, 4096).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(4L << 20, volume.SizeBytes);
        Assert.Equal(4L << 20, new FileInfo(_path).Length);
    }

    private long AllocatedBytes() => FileSpace.AllocatedBytes(_path);
}
