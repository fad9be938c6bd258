using VSwitch.Dataplane.Protocols;
using Xunit;

namespace VSwitch.Tests.Unit.Protocols;

public class Ipv4HeaderTests
{
    // (received bytes, version/IHL byte, total length field, expected header length; 0 = malformed)
    [Theory]
    [InlineData(28, 0x45, 28, 20)]   // no options, total length = what was received
    [InlineData(60, 0x45, 28, 20)]   // Ethernet padding after the datagram
    [InlineData(28, 0x45, 20, 20)]   // a header alone
    [InlineData(28, 0x45, 19, 0)]    // total length shorter than the header
    [InlineData(28, 0x45, 29, 0)]    // total length past what was received
    [InlineData(28, 0x45, 0, 0)]
    [InlineData(28, 0x46, 28, 24)]   // one word of options
    [InlineData(60, 0x4F, 60, 60)]   // the largest IHL, exactly received
    [InlineData(59, 0x4F, 59, 0)]    // the largest IHL, one byte short
    [InlineData(28, 0x44, 28, 0)]    // IHL 4: shorter than the fixed header
    [InlineData(28, 0x40, 28, 0)]    // IHL 0
    [InlineData(28, 0x65, 28, 0)]    // version 6
    [InlineData(28, 0x05, 28, 0)]    // version 0
    [InlineData(28, 0xC5, 28, 0)]    // version 12: 4 in its low bits, not 4
    [InlineData(19, 0x45, 19, 0)]    // shorter than any header
    [InlineData(0, 0x45, 0, 0)]
    public void ValidHeaderLength_accepts_exactly_headers_that_fit_their_own_lengths(int received, byte versionIhl, int totalLength, int expected)
    {
        byte[] packet = new byte[received];
        if (received > 0)
            packet[0] = versionIhl;
        if (received >= 4)
        {
            packet[2] = (byte)(totalLength >> 8);
            packet[3] = (byte)totalLength;
        }
        Assert.Equal(expected, Ipv4.ValidHeaderLength(packet, out int total));
        Assert.Equal(expected == 0 ? 0 : totalLength, total);
    }
}
