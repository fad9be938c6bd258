// Setup header parsing and every refusal, with the offset or field each message must name.
using VSwitch.Vmm.Boot;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Boot;

public sealed class BzImageTests
{
    [Fact]
    public void Header_fields_are_read_from_their_offsets()
    {
        var kernel = new TestKernel { SetupSects = 39, PrefAddress = 0x200_0000, InitSize = 0x3f9_8000, CmdlineSize = 1023, InitrdAddrMax = 0x3fff_ffff };
        BzImage image = BzImage.Parse(kernel.Build());
        Assert.Equal(0x020f, image.ProtocolVersion);
        Assert.Equal(39, image.SetupSects);
        Assert.Equal(40 * 512, image.ProtectedModeOffset);
        Assert.Equal(0x200_0000UL, image.PrefAddress);
        Assert.Equal(0x3f9_8000u, image.InitSize);
        Assert.Equal(1023u, image.CmdlineSize);
        Assert.Equal(0x3fff_ffffu, image.InitrdAddrMax);
        Assert.Equal(0x20_0000u, image.KernelAlignment);
        Assert.True(image.Relocatable);
        Assert.Equal(TestKernel.HeaderEnd, image.HeaderEnd);
        Assert.Equal(TestKernel.HeaderEnd - 0x1f1, image.SetupHeader.Length);
        Assert.Equal((40 * 512, kernel.Build().Length - 40 * 512), (image.ProtectedModeOffset, image.ProtectedModeLength));
    }

    [Fact]
    public void Setup_sects_zero_means_four()
    {
        BzImage image = BzImage.Parse(new TestKernel { SetupSects = 0 }.Build());
        Assert.Equal(4, image.SetupSects);
        Assert.Equal(5 * 512, image.ProtectedModeOffset);
    }

    [Theory]
    [InlineData(0x1fe, 0x00, "boot_flag at 0x1fe")]
    [InlineData(0x202, (byte)'X', "no 'HdrS' magic at 0x202; not a bzImage")]
    [InlineData(0x201, 0x20, "setup header end 0x222")]
    public void Corrupt_headers_are_refused(int offset, byte value, string message)
    {
        byte[] image = new TestKernel().Build();
        image[offset] = value;
        var e = Assert.Throws<LinuxBootException>(() => BzImage.Parse(image));
        Assert.StartsWith("kernel image: ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Old_protocols_are_refused() =>
        Assert.Contains("boot protocol 2.11", Assert.Throws<LinuxBootException>(() => BzImage.Parse(new TestKernel { Version = 0x020b }.Build())).Message);

    [Fact]
    public void Kernels_without_a_64_bit_entry_are_refused() =>
        Assert.Contains("XLF_KERNEL_64", Assert.Throws<LinuxBootException>(() => BzImage.Parse(new TestKernel { XLoadFlags = 0x7e }.Build())).Message);

    [Fact]
    public void Truncated_images_are_refused()
    {
        byte[] image = new TestKernel().Build();
        Assert.Contains("truncated", Assert.Throws<LinuxBootException>(() => BzImage.Parse(image[..^16])).Message);
        Assert.Contains("shorter than a setup header", Assert.Throws<LinuxBootException>(() => BzImage.Parse(image[..0x200])).Message);
        Assert.Contains("past the end", Assert.Throws<LinuxBootException>(() => BzImage.Parse(image[..(5 * 512)])).Message);
    }

    [Fact]
    public void Init_size_below_the_kernel_size_is_refused() =>
        Assert.Contains("init_size", Assert.Throws<LinuxBootException>(() => BzImage.Parse(new TestKernel { InitSize = 4096 }.Build())).Message);

    [Fact]
    public void Alignment_that_is_not_a_power_of_two_is_refused() =>
        Assert.Contains("kernel_alignment", Assert.Throws<LinuxBootException>(() => BzImage.Parse(new TestKernel { KernelAlignment = 0x30_0000 }.Build())).Message);
}
