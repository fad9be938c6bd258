// First-hop security from a local VM (red-a: 02:..:0a, 10.0.0.1, fd00::a and its EUI-64 link-local).
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Switching;
using Xunit;
using static VSwitch.Tests.Unit.Switching.FirstHopFrames;
using static VSwitch.Tests.Unit.Switching.TestTopology;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Switching;

public class TenantGuardTests
{
    private const string AllNodes = "33:33:00:00:00:01", AllNodesIp = "ff02::1";
    private static readonly string s_linkLocalA = VSwitch.Dataplane.Protocols.Ipv6.Format(MacAddress.LinkLocalIpv6(Mac(MacA)));
    private readonly SwitchTables _tables = Build();

    private DropReason Classify(byte[] frame, SwitchTables? tables = null)
    {
        tables ??= _tables;
        return L2Switch.Classify(tables, tables.Ports[0]!, frame, out _);
    }

    private static byte[] FromA(byte protocol, byte[] payload, string dstMac = AllNodes, string dstIp = AllNodesIp, string srcIp = "fd00::a",
        params (byte, byte[])[] extensions) =>
        Ipv6(MacA, dstMac, srcIp, dstIp, protocol, payload, extensions);

    [Fact]
    public void A_neighbor_advertisement_for_the_VMs_own_address_and_MAC_passes()
    {
        Assert.Equal(DropReason.None, Classify(FromA(Icmpv6Next, NeighborAdvertisement("fd00::a", MacA))));
        Assert.Equal(DropReason.None, Classify(FromA(Icmpv6Next, NeighborAdvertisement(s_linkLocalA, MacA), srcIp: s_linkLocalA)));
        // Solicited, to the asker's MAC, without the option (RFC 4861 section 4.4 allows leaving it out).
        Assert.Equal(DropReason.None, Classify(FromA(Icmpv6Next, NeighborAdvertisement("fd00::a", null), dstMac: MacB, dstIp: "fd00::b")));
    }

    [Theory]
    [InlineData("fd00::b", MacA)] // another VM's address (unicast, to that VM's MAC, below too)
    [InlineData("fd00::a", MacB)] // own address, another VM's MAC
    [InlineData("fd00::77", null)] // an address no VM has, without the option
    public void A_neighbor_advertisement_naming_another_address_or_MAC_is_spoofed(string target, string? tlla)
    {
        Assert.Equal(DropReason.SpoofedNeighborAdvertisement, Classify(FromA(Icmpv6Next, NeighborAdvertisement(target, tlla))));
        Assert.Equal(DropReason.SpoofedNeighborAdvertisement, Classify(FromA(Icmpv6Next, NeighborAdvertisement(target, tlla), dstMac: MacB, dstIp: "fd00::b")));
    }

    [Fact]
    public void A_second_target_link_layer_option_with_another_MAC_is_spoofed() =>
        Assert.Equal(DropReason.SpoofedNeighborAdvertisement,
            Classify(FromA(Icmpv6Next, NeighborAdvertisement("fd00::a", MacA, [2, 1, 2, 0, 0, 0, 0, 0x0b]))));

    [Fact]
    public void A_neighbor_advertisement_cut_short_or_with_a_bad_option_is_malformed()
    {
        Assert.Equal(DropReason.MalformedIcmpv6, Classify(FromA(Icmpv6Next, NeighborAdvertisement("fd00::a", null)[..23])));
        Assert.Equal(DropReason.MalformedIcmpv6, Classify(FromA(Icmpv6Next, NeighborAdvertisement("fd00::a", MacA, [1, 0, 0, 0, 0, 0, 0, 0])))); // length 0
        Assert.Equal(DropReason.MalformedIcmpv6, Classify(FromA(Icmpv6Next, NeighborAdvertisement("fd00::a", MacA, [1, 2, 0, 0, 0, 0, 0, 0])))); // past the end
        Assert.Equal(DropReason.MalformedIcmpv6, Classify(FromA(Icmpv6Next, NeighborAdvertisement("fd00::a", MacA)[..27])));
        Assert.Equal(DropReason.MalformedIcmpv6, Classify(FromA(Icmpv6Next, [136, 0, 0])));
    }

    [Fact]
    public void Router_advertisements_and_redirects_need_allow_routing()
    {
        Assert.Equal(DropReason.RogueRouterAdvertisement, Classify(FromA(Icmpv6Next, RouterAdvertisement, srcIp: s_linkLocalA)));
        Assert.Equal(DropReason.RogueRedirect, Classify(FromA(Icmpv6Next, Redirect, dstMac: MacB, dstIp: "fd00::b", srcIp: s_linkLocalA)));
        SwitchTables router = Build(redARoutes: true);
        Assert.Equal(DropReason.None, Classify(FromA(Icmpv6Next, RouterAdvertisement, srcIp: s_linkLocalA), router));
        Assert.Equal(DropReason.None, Classify(FromA(Icmpv6Next, Redirect, dstMac: MacB, dstIp: "fd00::b", srcIp: s_linkLocalA), router));
        // allow_routing is no licence to spoof neighbours.
        Assert.Equal(DropReason.SpoofedNeighborAdvertisement, Classify(FromA(Icmpv6Next, NeighborAdvertisement("fd00::b", MacA)), router));
    }

    [Fact]
    public void A_router_advertisement_behind_extension_headers_or_in_a_first_fragment_is_found()
    {
        Assert.Equal(DropReason.RogueRouterAdvertisement, Classify(FromA(Icmpv6Next, RouterAdvertisement, extensions: [(HopByHop, Options8), (DestinationOptions, Options8)])));
        Assert.Equal(DropReason.RogueRouterAdvertisement, Classify(FromA(Icmpv6Next, RouterAdvertisement, extensions: [(Fragment, FragmentHeader(0, more: true))])));
        Assert.Equal(DropReason.SpoofedNeighborAdvertisement, Classify(FromA(Icmpv6Next, NeighborAdvertisement("fd00::b", MacA), extensions: [(DestinationOptions, Options8)])));
        // A later fragment has no ICMPv6 header: its first fragment is the one checked.
        Assert.Equal(DropReason.None, Classify(FromA(Icmpv6Next, RouterAdvertisement, extensions: [(Fragment, FragmentHeader(2, more: false))])));
    }

    [Fact]
    public void An_extension_header_chain_cut_short_or_too_long_is_malformed()
    {
        // A Destination Options header claiming 16 octets with 8 left.
        Assert.Equal(DropReason.MalformedIpv6, Classify(FromA(Icmpv6Next, [], extensions: [(DestinationOptions, [0, 1, 1, 4, 0, 0, 0, 0])])));
        Assert.Equal(DropReason.MalformedIpv6, Classify(FromA(Icmpv6Next, [], extensions: [(HopByHop, [0])])));
        var nine = Enumerable.Repeat((DestinationOptions, Options8), 9).ToArray();
        Assert.Equal(DropReason.MalformedIpv6, Classify(FromA(Icmpv6Next, EchoRequest, extensions: nine)));
        Assert.Equal(DropReason.None, Classify(FromA(Icmpv6Next, EchoRequest, extensions: nine[..8])));
    }

    [Fact]
    public void Other_ICMPv6_TCP_and_non_DHCP_UDP_pass()
    {
        Assert.Equal(DropReason.None, Classify(FromA(Icmpv6Next, EchoRequest, dstMac: MacB, dstIp: "fd00::b")));
        Assert.Equal(DropReason.None, Classify(FromA(6, new byte[20], dstMac: MacB, dstIp: "fd00::b")));
        Assert.Equal(DropReason.None, Classify(FromA(UdpNext, UdpDatagram(546, 547))));
        Assert.Equal(DropReason.None, Classify(FromA(UdpNext, UdpDatagram(1000, 2000), dstMac: MacB, dstIp: "fd00::b")));
    }

    [Fact]
    public void DHCP_server_replies_from_a_VM_are_dropped_client_messages_pass()
    {
        Assert.Equal(DropReason.RogueDhcpServer, Classify(Frames.Udp4(MacA, "ff:ff:ff:ff:ff:ff", IpA, "255.255.255.255", 67, 68, payload: 240)));
        Assert.Equal(DropReason.RogueDhcpServer, Classify(Frames.Udp4(MacA, MacB, IpA, IpB, 67, 68, payload: 240)));
        Assert.Equal(DropReason.RogueDhcpServer, Classify(FromA(UdpNext, UdpDatagram(547, 546), dstIp: "ff02::1:2")));
        Assert.Equal(DropReason.RogueDhcpServer, Classify(FromA(UdpNext, UdpDatagram(547, 546), extensions: [(HopByHop, Options8)])));
        Assert.Equal(DropReason.None, Classify(Frames.Udp4(MacA, "ff:ff:ff:ff:ff:ff", IpA, "255.255.255.255", 68, 67, payload: 240)));
        Assert.Equal(DropReason.None, Classify(Frames.Udp4(MacA, MacB, IpA, IpB, 67, 67)));
    }

    [Fact]
    public void UDP_cut_short_is_malformed_unless_it_is_a_later_fragment()
    {
        Assert.Equal(DropReason.MalformedUdp, Classify(FirstHopFrames.Udp4Cut(MacA, MacB, IpA, IpB, 1000, 2000, udpBytes: 7)));
        Assert.Equal(DropReason.MalformedUdp, Classify(FirstHopFrames.Udp4Cut(MacA, MacB, IpA, IpB, 67, 68, udpBytes: 4, fragment: 0x2000))); // first fragment, MF
        Assert.Equal(DropReason.None, Classify(FirstHopFrames.Udp4Cut(MacA, MacB, IpA, IpB, 67, 68, udpBytes: 8, fragment: 0x0003))); // offset 24: no UDP header
        Assert.Equal(DropReason.None, Classify(FirstHopFrames.Udp4Cut(MacA, MacB, IpA, IpB, 1000, 2000, udpBytes: 8)));
        Assert.Equal(DropReason.MalformedUdp, Classify(FromA(UdpNext, UdpDatagram(547, 546)[..7])));
    }
}
