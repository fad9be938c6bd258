using VSwitch.Dataplane.Protocols;
using Xunit;

namespace VSwitch.Tests.Unit.Protocols;

public class IpAddressTests
{
    [Theory]
    [InlineData("10.0.0.1", 0x0A00_0001U)]
    [InlineData("0.0.0.0", 0U)]
    [InlineData("255.255.255.255", 0xFFFF_FFFFU)]
    [InlineData("192.168.100.7", 0xC0A8_6407U)]
    public void Ipv4_ParseAddress_reads_dotted_quads(string text, uint expected)
    {
        Assert.Equal(expected, Ipv4.ParseAddress(text));
        Assert.Equal(text, Ipv4.Format(expected));
    }

    [Theory]
    [InlineData("10.1")]
    [InlineData("167772161")]
    [InlineData("010.0.0.1")]
    [InlineData("0x0a.0.0.1")]
    [InlineData("10.0.0.256")]
    [InlineData("10.0.0.1.")]
    [InlineData("10..0.1")]
    [InlineData(" 10.0.0.1")]
    [InlineData("10.0.0.+1")]
    [InlineData("10.0.0.١")] // Arabic-Indic digit one: a Unicode digit, not an ASCII one
    [InlineData("fd00::1")]
    [InlineData("")]
    public void Ipv4_ParseAddress_refuses_shorthands_and_octal(string text) =>
        Assert.Throws<FormatException>(() => Ipv4.ParseAddress(text));

    [Theory]
    [InlineData("fd00::1", "fd00::1")]
    [InlineData("FD00:0:0:0:0:0:0:1", "fd00::1")]
    [InlineData("::", "::")]
    [InlineData("fe80::5054:ff:fe12:3456", "fe80::5054:ff:fe12:3456")]
    public void Ipv6_ParseAddress_reads_rfc4291_text(string text, string formatted) =>
        Assert.Equal(formatted, Ipv6.Format(Ipv6.ParseAddress(text)));

    [Theory]
    [InlineData("fe80::1%eth0")]
    [InlineData("fe80::1%5")]
    [InlineData("[fd00::1]")]
    [InlineData("fd00::1/64")]
    [InlineData("10.0.0.1")]
    [InlineData("fd00::g")]
    public void Ipv6_ParseAddress_refuses_zones_and_other_text(string text) =>
        Assert.Throws<FormatException>(() => Ipv6.ParseAddress(text));
}
