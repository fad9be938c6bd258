using Xunit;
using static VSwitch.Tests.Unit.Overlay.OverlayTopology;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Counters;

namespace VSwitch.Tests.Unit.Overlay;

public class HeaderTests
{
    private static readonly uint[] s_known = [Geneve.OptionKey(0x0102, 0x80)];

    [Theory]
    [InlineData(1u)]
    [InlineData(5001u)]
    [InlineData(0xFFFFFFu)]
    public void Vxlan_header_is_RFC_7348_layout_and_round_trips(uint vni)
    {
        var header = new byte[8];
        Vxlan.Write(header, vni);
        Assert.Equal(VxlanHeader(vni), header);
        Assert.Equal(DropReason.None, Vxlan.Parse(header, out uint parsed));
        Assert.Equal(vni, parsed);
    }

    [Fact]
    public void Vxlan_without_the_I_flag_or_cut_short_is_malformed()
    {
        Assert.Equal(DropReason.MalformedTunnelHeader, Vxlan.Parse(new byte[] { 0, 0, 0, 0, 0, 0x13, 0x89, 0 }, out _));
        Assert.Equal(DropReason.MalformedTunnelHeader, Vxlan.Parse(VxlanHeader(5001).AsSpan(0, 7), out _));
        // Reserved bits are ignored on receipt (RFC 7348 section 5).
        Assert.Equal(DropReason.None, Vxlan.Parse(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x13, 0x89, 0xFF }, out uint vni));
        Assert.Equal(5001u, vni);
    }

    [Fact]
    public void Geneve_write_encodes_options_and_sets_C_for_a_critical_one()
    {
        var options = new[] { new GeneveOption(0x0102, 0x80, [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]), new GeneveOption(0xFFFF, 0x01, [1, 2, 3, 4]) };
        var header = new byte[8 + 12 + 8];
        Assert.Equal(header.Length, Geneve.Write(header, 5001, options));
        Assert.Equal(GeneveHeader(5001, Concat(AgreedOption, GeneveOption(0xFFFF, 0x01, [1, 2, 3, 4])), flags: 0x40), header);

        Assert.Equal(DropReason.None, Geneve.Parse(header, s_known, out GeneveHeader parsed));
        Assert.Equal(new GeneveHeader(5001, 28, 2, 1), parsed);
    }

    [Fact]
    public void Geneve_without_options_has_no_C_flag()
    {
        var header = new byte[8];
        Geneve.Write(header, 7, []);
        Assert.Equal(GeneveHeader(7, []), header);
        Assert.Equal(DropReason.None, Geneve.Parse(header, [], out GeneveHeader parsed));
        Assert.Equal(new GeneveHeader(7, 8, 0, 0), parsed);
    }

    public static TheoryData<string, byte[], DropReason> BadGeneve => new()
    {
        { "cut at 7 bytes", GeneveHeader(1, [])[..7], DropReason.MalformedTunnelHeader },
        { "version 1", GeneveHeader(1, [], version: 1), DropReason.MalformedTunnelHeader },
        { "protocol IPv4, not Ethernet", GeneveHeader(1, [], protocol: 0x0800), DropReason.MalformedTunnelHeader },
        { "Opt Len 4 words, 2 present", GeneveHeader(1, GeneveOption(1, 1, [1, 2, 3, 4]), optLenWords: 4), DropReason.BadGeneveOptionLength },
        { "option length 3 words inside Opt Len 2", GeneveHeader(1, GeneveOption(1, 1, [1, 2, 3, 4], lengthWords: 3)), DropReason.BadGeneveOptionLength },
        { "Opt Len 1 word: a lone option header with data beyond", GeneveHeader(1, GeneveOption(1, 1, [1, 2, 3, 4]), optLenWords: 1), DropReason.BadGeneveOptionLength },
        { "unknown critical option, C set", GeneveHeader(1, GeneveOption(0x0102, 0x81, [1, 2, 3, 4]), flags: 0x40), DropReason.GeneveCriticalOption },
        { "unknown critical option, C clear", GeneveHeader(1, GeneveOption(0x0999, 0x80, []), flags: 0), DropReason.GeneveCriticalOption },
        { "control packet (O flag)", GeneveHeader(1, [], flags: 0x80), DropReason.GeneveControlPacket },
    };

    [Theory]
    [MemberData(nameof(BadGeneve))]
    public void Geneve_refuses(string what, byte[] header, DropReason expected) =>
        Assert.True(Geneve.Parse(header, s_known, out _) == expected, what);

    [Fact]
    public void Geneve_accepts_unknown_non_critical_options_and_counts_them()
    {
        byte[] header = GeneveHeader(9, Concat(GeneveOption(0x0999, 0x01, [9, 9, 9, 9]), AgreedOption, GeneveOption(0x0999, 0x7F, [])), flags: 0x40);
        Assert.Equal(DropReason.None, Geneve.Parse(header, s_known, out GeneveHeader parsed));
        Assert.Equal(new GeneveHeader(9, header.Length, 3, 1), parsed);
    }
}
