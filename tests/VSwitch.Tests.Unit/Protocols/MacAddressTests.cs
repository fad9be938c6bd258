using VSwitch.Dataplane.Protocols;
using Xunit;

namespace VSwitch.Tests.Unit.Protocols;

public class MacAddressTests
{
    [Theory]
    [InlineData("02:00:00:00:00:01", 0x0200_0000_0001UL)]
    [InlineData("52:54:00:12:34:56", 0x5254_0012_3456UL)]
    [InlineData("52-54-00-12-34-56", 0x5254_0012_3456UL)]
    [InlineData("AA:bb:Cc:dD:ee:FF", 0xAABB_CCDD_EEFFUL)]
    [InlineData("ff:ff:ff:ff:ff:ff", MacAddress.Broadcast)]
    public void TryParse_accepts_six_hex_octets(string text, ulong expected)
    {
        Assert.True(MacAddress.TryParse(text, out ulong mac));
        Assert.Equal(expected, mac);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("02:00:00:00:00:0g")]
    [InlineData("02:00:00:00:00")]
    [InlineData("02:00:00:00:00:01:02")]
    [InlineData("2:0:0:0:0:1")]
    [InlineData("02:00:00:00:00: 1")]
    [InlineData(" 2:00:00:00:00:01")]
    [InlineData("02:00:00:00:00:01 ")]
    [InlineData("02:00-00:00:00:01")]
    [InlineData("02.00.00.00.00.01")]
    [InlineData("0200.0000.0001")]
    [InlineData("+2:00:00:00:00:01")]
    public void TryParse_rejects_anything_else(string? text)
    {
        Assert.False(MacAddress.TryParse(text, out ulong mac));
        Assert.Equal(0UL, mac);
    }

    [Theory]
    [InlineData(0x0200_0000_0001UL, "02:00:00:00:00:01")]
    [InlineData(0xAABB_CCDD_EEFFUL, "aa:bb:cc:dd:ee:ff")]
    [InlineData(0UL, "00:00:00:00:00:00")]
    public void Format_writes_lower_case_colon_separated(ulong mac, string expected)
    {
        Assert.Equal(expected, MacAddress.Format(mac));
        Assert.True(MacAddress.TryParse(MacAddress.Format(mac), out ulong back));
        Assert.Equal(mac, back);
    }

    [Theory]
    [InlineData("52:54:00:12:34:56", "fe80::5054:ff:fe12:3456")]
    // The U/L bit is flipped, not set: a locally administered MAC gives a 0 there.
    [InlineData("02:00:00:00:00:01", "fe80::ff:fe00:1")]
    [InlineData("00:00:00:00:00:00", "fe80::200:ff:fe00:0")]
    public void LinkLocalIpv6_is_modified_eui64(string mac, string expected)
    {
        Assert.True(MacAddress.TryParse(mac, out ulong parsed));
        Assert.Equal(Ipv6.ParseAddress(expected), MacAddress.LinkLocalIpv6(parsed));
        Assert.Equal(expected, Ipv6.Format(MacAddress.LinkLocalIpv6(parsed)));
    }

    [Theory]
    [InlineData(0x0100_0000_0000UL, true)]
    [InlineData(0x0133_0000_0001UL, true)]
    [InlineData(MacAddress.Broadcast, true)]
    [InlineData(0x0200_0000_0001UL, false)]
    [InlineData(0xFEFF_FFFF_FFFFUL, false)]
    public void IsGroup_reads_the_IG_bit(ulong mac, bool group) => Assert.Equal(group, MacAddress.IsGroup(mac));
}
