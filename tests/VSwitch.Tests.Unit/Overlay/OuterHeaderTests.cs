// The outer Ethernet and IPv4 checks of decapsulation that a promiscuous uplink needs: a tunnel
// frame must be addressed to the VTEP's MAC, and its IPv4 header checksum must verify.
using System.Buffers.Binary;
using VSwitch.Dataplane.Overlay;
using VSwitch.Dataplane.Protocols;
using VSwitch.Tests.Unit.Switching;
using Xunit;
using static VSwitch.Tests.Unit.Overlay.OverlayTopology;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Overlay;

public class OuterHeaderTests
{
    private static readonly SwitchTables s_tables = Build();

    private static byte[] Good => Outer(HostB, Vtep, 4789, Concat(VxlanHeader(RedVni), Frames.Udp4(RedC, RedA, "10.0.0.3", "10.0.0.1")));

    private static byte[] ToMac(byte[] frame, string mac)
    {
        MacAddress.Write(frame, TestTopology.Mac(mac));
        return frame;
    }

    private static byte[] WithChecksum(byte[] frame, ushort checksum)
    {
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + Ipv4.ChecksumOffset), checksum);
        return frame;
    }

    private static ushort ChecksumOf(byte[] frame) => BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(14 + Ipv4.ChecksumOffset));

    public static TheoryData<string, byte[], DropReason> Refused() => new()
    {
        { "VXLAN to another underlay host's MAC", ToMac(Good, "02:bb:00:00:00:09"), DropReason.WrongDestinationMac },
        { "VXLAN to the broadcast MAC", ToMac(Good, "ff:ff:ff:ff:ff:ff"), DropReason.WrongDestinationMac },
        { "VXLAN to a multicast MAC", ToMac(Good, "01:00:5e:00:00:01"), DropReason.WrongDestinationMac },
        { "VXLAN to the uplink port's own MAC, not the configured overlay MAC", ToMac(Good, "02:ee:00:00:00:01"), DropReason.WrongDestinationMac },
        { "GENEVE to another host's MAC", ToMac(Outer(HostC, Vtep, 6081, Concat(GeneveHeader(RedVni, AgreedOption, flags: 0x40), Frames.Udp4(RedD, RedA, "10.0.0.4", "10.0.0.1"))), "02:bb:00:00:00:09"), DropReason.WrongDestinationMac },
        { "outer checksum off by one", WithChecksum(Good, (ushort)(ChecksumOf(Good) + 1)), DropReason.BadOuterChecksum },
        { "outer checksum left zero", WithChecksum(Good, 0), DropReason.BadOuterChecksum },
        { "outer TTL changed after the checksum", WithByte(Good, 14 + Ipv4.TtlOffset, 1), DropReason.BadOuterChecksum },
        // The documented order: the checksum before the UDP and tunnel checks, the MAC before the VTEP address.
        { "bad checksum and another host's MAC", WithChecksum(ToMac(Good, "02:bb:00:00:00:09"), 0), DropReason.BadOuterChecksum },
        { "another host's MAC and another VTEP", ToMac(Outer(HostB, "192.168.50.9", 4789, Concat(VxlanHeader(RedVni), Frames.Udp4(RedC, RedA, "10.0.0.3", "10.0.0.1"))), "02:bb:00:00:00:09"), DropReason.WrongDestinationMac },
        { "plain UDP to another MAC stays not-a-tunnel", ToMac(Outer(HostB, Vtep, 53, VxlanHeader(RedVni)), "02:bb:00:00:00:09"), DropReason.UplinkNotTunnel },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Refuses(string what, byte[] frame, DropReason expected)
    {
        DropReason reason = Decapsulation.Classify(s_tables, s_tables.Overlay!, frame, out _);
        Assert.True(reason == expected, $"{what}: {reason}, expected {expected}");
    }

    [Fact]
    public void The_reference_frame_to_our_MAC_with_its_checksum_is_delivered() =>
        Assert.Equal(DropReason.None, Decapsulation.Classify(s_tables, s_tables.Overlay!, Good, out _));

    [Fact]
    public void The_fast_checksum_agrees_with_RFC_1071_written_out()
    {
        var random = new Random(1122);
        byte[] header = new byte[20];
        for (int i = 0; i < 20000; i++)
        {
            random.NextBytes(header);
            header[0] = 0x45;
            // Half the headers get their right checksum (0x0000 and 0xFFFF both occur as sums), half keep a random one.
            if (i % 2 == 0)
            {
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), 0);
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), Rfc1071(header));
            }
            Assert.Equal(Rfc1071(header) == 0, Ipv4.ChecksumVerifiesNoOptions(header));
        }
        // Words that sum to exactly 0xFFFF before the checksum: the checksum is 0x0000 and verifies.
        byte[] edge = [0x45, 0x00, 0x00, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBA, 0xEB, 0, 0];
        Assert.Equal(0, Rfc1071(edge));
        Assert.True(Ipv4.ChecksumVerifiesNoOptions(edge));
        edge[10] = edge[11] = 0xFF; // the other zero of one's complement verifies too
        Assert.True(Ipv4.ChecksumVerifiesNoOptions(edge));
    }
}
