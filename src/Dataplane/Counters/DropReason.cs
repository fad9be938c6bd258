// Every frame vswitchd does not deliver is counted under exactly one of these reasons. The hot
// path returns a reason instead of throwing; the names are the label values exported by the
// control socket ("drops": {"spoofed_ipv4_source": 3, ...}).
using System.Text.Json;

namespace VSwitch.Dataplane.Counters;

public enum DropReason : byte
{
    None = 0,
    /// <summary>Shorter than an Ethernet header.</summary>
    RuntFrame,
    /// <summary>IPv4 header shorter than 20 bytes, than its IHL, or than its total length claims.</summary>
    MalformedIpv4,
    /// <summary>ARP shorter than its fixed part or than its hlen/plen claim, or not Ethernet/IPv4.</summary>
    MalformedArp,
    /// <summary>IPv6 fixed header incomplete, wrong version, or payload length beyond the frame; on ICMPv6/UDP checks, an extension header chain cut short or too long.</summary>
    MalformedIpv6,
    /// <summary>Longer than the ingress port's MTU plus the Ethernet header.</summary>
    Oversize,
    /// <summary>802.1Q/802.1ad tagged frame from a VM port: tenants may not pick VLANs.</summary>
    VlanTagged,
    SpoofedSourceMac,
    SpoofedIpv4Source,
    /// <summary>ARP sender hardware or protocol address not bound to the port.</summary>
    SpoofedArpSender,
    SpoofedIpv6Source,
    /// <summary>Received on a port that has no VM bound to it (yet).</summary>
    UnboundPort,
    /// <summary>Received on the uplink before an overlay (VXLAN/GENEVE) is configured on it.</summary>
    UplinkNoOverlay,
    /// <summary>Unicast to the port it came from.</summary>
    Hairpin,
    /// <summary>Flooded frame with no other port in the tenant to go to.</summary>
    NoFloodTarget,
    /// <summary>Longer than the egress port's MTU plus the Ethernet header.</summary>
    EgressMtuExceeded,
    /// <summary>Chained (multi-segment) mbuf; ports are configured for single-segment frames.</summary>
    MultiSegment,
    /// <summary>The egress port's tx queue did not take the frame.</summary>
    TxQueueFull,

    // The overlay (docs/overlay.md). Encapsulation, from VM ports:
    /// <summary>The frame plus the outer headers would be longer than the uplink's MTU plus the Ethernet header.</summary>
    EncapExceedsMtu,
    /// <summary>The next hop toward the remote VTEP has no resolved MAC (an ARP request is on its way).</summary>
    NeighbourUnresolved,
    /// <summary>The mbuf's buffer cannot hold the frame and its outer headers together.</summary>
    NoHeadroom,
    /// <summary>No mbuf left in the pool for a head-end replica.</summary>
    MbufPoolExhausted,

    // Decapsulation, from the uplink, in the order they are checked:
    /// <summary>On the uplink, neither VXLAN/GENEVE for this host nor ARP for its VTEP address.</summary>
    UplinkNotTunnel,
    /// <summary>Outer IPv4 or UDP header truncated or inconsistent with the frame.</summary>
    MalformedOuter,
    /// <summary>Outer IPv4 header with options: tunnel peers send none, and we do not parse them.</summary>
    OuterIpOptions,
    /// <summary>A fragment of an outer IPv4 datagram: tunnels here set DF and never reassemble.</summary>
    OuterFragment,
    /// <summary>Outer IPv4 header checksum does not verify: silently discarded, as RFC 1122 section 3.2.1.2 has it, and counted.</summary>
    BadOuterChecksum,
    /// <summary>Tunnel traffic to an Ethernet address other than the VTEP's MAC (the uplink is promiscuous: another host's unicast, broadcast, multicast).</summary>
    WrongDestinationMac,
    /// <summary>Tunnel traffic to an IPv4 address other than this host's VTEP.</summary>
    WrongDestinationVtep,
    /// <summary>Outer source address is no configured remote host.</summary>
    UnknownSourceVtep,
    /// <summary>VXLAN from a GENEVE host or the other way round.</summary>
    TunnelTypeMismatch,
    /// <summary>VXLAN header cut short or without the I flag; GENEVE header cut short, version not 0, or payload not Ethernet.</summary>
    MalformedTunnelHeader,
    /// <summary>GENEVE Opt Len beyond the packet, or an option whose length runs past Opt Len.</summary>
    BadGeneveOptionLength,
    /// <summary>GENEVE option with the critical bit that this host does not understand (RFC 8926 section 3.5.1).</summary>
    GeneveCriticalOption,
    /// <summary>GENEVE control packet (O flag): its payload must not be forwarded (RFC 8926 section 3.4).</summary>
    GeneveControlPacket,
    /// <summary>VNI that maps to no tenant.</summary>
    UnknownVni,
    /// <summary>Inner frame shorter than an Ethernet header.</summary>
    MalformedInner,
    /// <summary>Inner source MAC is no remote VM of the tenant hosted at the sending VTEP.</summary>
    SpoofedInnerSource,
    /// <summary>Inner unicast to a MAC that is no local VM of the tenant (never sent back into the tunnel).</summary>
    UnknownInnerDestination,

    // A tenant's VMs, local or remote (Switching/TenantGuard.cs, PollWorker's flood limit):
    /// <summary>Broadcast, multicast or unknown unicast from a VM beyond its flood_rate_pps (and flood_burst).</summary>
    FloodRateExceeded,
    /// <summary>UDP header shorter than 8 octets, or than the IPv4/IPv6 packet leaves room for.</summary>
    MalformedUdp,
    /// <summary>ICMPv6 shorter than its 4-octet header; a Neighbor Advertisement shorter than 24 octets or with an option of length 0 or past the end (RFC 4861 section 4.6).</summary>
    MalformedIcmpv6,
    /// <summary>Neighbor Advertisement whose target is not the sender's own address, or whose Target Link-Layer Address option is not its MAC.</summary>
    SpoofedNeighborAdvertisement,
    /// <summary>Router Advertisement (ICMPv6 type 134) from a VM without allow_routing.</summary>
    RogueRouterAdvertisement,
    /// <summary>Redirect (ICMPv6 type 137) from a VM without allow_routing.</summary>
    RogueRedirect,
    /// <summary>DHCP server reply from a VM: UDP 67 to 68 over IPv4, or 547 to 546 over IPv6.</summary>
    RogueDhcpServer,

    // vhost-user VM ports (Vhost/):
    /// <summary>To a vhost-user port with no frontend connected, or whose guest has no receive vring enabled.</summary>
    VhostNotReady,
    /// <summary>The guest's receive vring had no room: the VM stopped draining it (only its own frames are lost).</summary>
    GuestRxRingFull,
}

public static class DropReasons
{
    public static readonly int Count = Enum.GetValues<DropReason>().Length;

    /// <summary>
    /// The reason's name in snake_case, as the counters report and the metrics spell it (the same
    /// naming as every counter, Counters/CounterReport.cs). These labels are an external interface:
    /// drop-reasons.txt beside this file pins them, and the pcap generator and tests read it.
    /// </summary>
    public static string Label(DropReason reason) => s_labels[(int)reason];

    /// <summary>The reasons that dropped any frame in <paramref name="byReason"/> (indexed by DropReason), by label, with their counts. Allocates: control side only.</summary>
    public static IEnumerable<(string Label, ulong Frames)> Hits(ulong[] byReason)
    {
        for (int r = 1; r < byReason.Length; r++)
        {
            if (byReason[r] != 0)
                yield return (s_labels[r], byReason[r]);
        }
    }

    private static readonly string[] s_labels =
        [.. Enum.GetValues<DropReason>().Select(reason => JsonNamingPolicy.SnakeCaseLower.ConvertName(reason.ToString()))];
}
