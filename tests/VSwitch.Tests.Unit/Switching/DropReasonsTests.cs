using VSwitch.Dataplane.Switching;
using Xunit;

namespace VSwitch.Tests.Unit.Switching;

public class DropReasonsTests
{
    // The labels are an external interface (control socket and metrics), so every one is pinned
    // here; renaming an enum member must not silently rename a time series.
    public static TheoryData<DropReason, string> Labels => new()
    {
        { DropReason.None, "none" },
        { DropReason.RuntFrame, "runt_frame" },
        { DropReason.MalformedIpv4, "malformed_ipv4" },
        { DropReason.MalformedArp, "malformed_arp" },
        { DropReason.MalformedIpv6, "malformed_ipv6" },
        { DropReason.Oversize, "oversize" },
        { DropReason.VlanTagged, "vlan_tagged" },
        { DropReason.SpoofedSourceMac, "spoofed_source_mac" },
        { DropReason.SpoofedIpv4Source, "spoofed_ipv4_source" },
        { DropReason.SpoofedArpSender, "spoofed_arp_sender" },
        { DropReason.SpoofedIpv6Source, "spoofed_ipv6_source" },
        { DropReason.UnboundPort, "unbound_port" },
        { DropReason.UplinkNoOverlay, "uplink_no_overlay" },
        { DropReason.Hairpin, "hairpin" },
        { DropReason.NoFloodTarget, "no_flood_target" },
        { DropReason.EgressMtuExceeded, "egress_mtu_exceeded" },
        { DropReason.MultiSegment, "multi_segment" },
        { DropReason.TxQueueFull, "tx_queue_full" },
        { DropReason.EncapExceedsMtu, "encap_exceeds_mtu" },
        { DropReason.NeighbourUnresolved, "neighbour_unresolved" },
        { DropReason.NoHeadroom, "no_headroom" },
        { DropReason.MbufPoolExhausted, "mbuf_pool_exhausted" },
        { DropReason.UplinkNotTunnel, "uplink_not_tunnel" },
        { DropReason.MalformedOuter, "malformed_outer" },
        { DropReason.OuterIpOptions, "outer_ip_options" },
        { DropReason.OuterFragment, "outer_fragment" },
        { DropReason.BadOuterChecksum, "bad_outer_checksum" },
        { DropReason.WrongDestinationMac, "wrong_destination_mac" },
        { DropReason.WrongDestinationVtep, "wrong_destination_vtep" },
        { DropReason.UnknownSourceVtep, "unknown_source_vtep" },
        { DropReason.TunnelTypeMismatch, "tunnel_type_mismatch" },
        { DropReason.MalformedTunnelHeader, "malformed_tunnel_header" },
        { DropReason.BadGeneveOptionLength, "bad_geneve_option_length" },
        { DropReason.GeneveCriticalOption, "geneve_critical_option" },
        { DropReason.GeneveControlPacket, "geneve_control_packet" },
        { DropReason.UnknownVni, "unknown_vni" },
        { DropReason.MalformedInner, "malformed_inner" },
        { DropReason.SpoofedInnerSource, "spoofed_inner_source" },
        { DropReason.UnknownInnerDestination, "unknown_inner_destination" },
        { DropReason.FloodRateExceeded, "flood_rate_exceeded" },
        { DropReason.MalformedUdp, "malformed_udp" },
        { DropReason.MalformedIcmpv6, "malformed_icmpv6" },
        { DropReason.SpoofedNeighborAdvertisement, "spoofed_neighbor_advertisement" },
        { DropReason.RogueRouterAdvertisement, "rogue_router_advertisement" },
        { DropReason.RogueRedirect, "rogue_redirect" },
        { DropReason.RogueDhcpServer, "rogue_dhcp_server" },
    };

    [Theory]
    [MemberData(nameof(Labels))]
    public void Label_is_snake_case(DropReason reason, string expected) =>
        Assert.Equal(expected, DropReasons.Label(reason));

    [Fact]
    public void Every_reason_has_a_pinned_label() =>
        Assert.Equal(DropReasons.Count, Labels.Count);

    [Fact]
    public void Labels_are_distinct() =>
        Assert.Equal(DropReasons.Count, Enum.GetValues<DropReason>().Select(DropReasons.Label).Distinct().Count());
}
