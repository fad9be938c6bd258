using VSwitch.Dataplane.Overlay;
using VSwitch.Dataplane.Protocols;
using VSwitch.Tests.Unit.Switching;
using Xunit;
using static VSwitch.Tests.Unit.Overlay.OverlayTopology;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Overlay;

public class DecapsulationTests
{
    private static readonly SwitchTables s_tables = Build();

    private static DropReason Classify(byte[] frame, out Decapsulated result) =>
        Decapsulation.Classify(s_tables, s_tables.Overlay!, frame, out result);

    private static byte[] FromC(string dst = RedA, string srcIp = "10.0.0.3", string dstIp = "10.0.0.1") => Frames.Udp4(RedC, dst, srcIp, dstIp);

    private static byte[] Vxlan(byte[] inner, uint vni = RedVni, string src = HostB, string dst = Vtep) =>
        Outer(src, dst, 4789, Concat(VxlanHeader(vni), inner));

    [Fact]
    public void Vxlan_from_a_known_host_is_delivered_to_the_local_VM()
    {
        byte[] inner = FromC();
        Assert.Equal(DropReason.None, Classify(Vxlan(inner), out Decapsulated d));
        Assert.Equal(UplinkAction.Deliver, d.Action);
        Assert.Equal(PortA, d.Egress!.PortId);
        Assert.Equal("host-b", d.Host!.Name);
        Assert.Equal(50, d.InnerOffset);
        Assert.Equal(inner.Length, d.InnerLength);
    }

    [Fact]
    public void The_VNI_picks_the_tenant_whose_VM_gets_the_frame()
    {
        Assert.Equal(DropReason.None, Classify(Vxlan(FromC(), BlueVni), out Decapsulated d));
        Assert.Equal(PortBlue, d.Egress!.PortId);
    }

    [Fact]
    public void Geneve_with_the_agreed_option_is_delivered_and_its_options_counted()
    {
        byte[] inner = Frames.Udp4(RedD, RedB, "10.0.0.4", "10.0.0.2");
        byte[] tunnel = Concat(GeneveHeader(RedVni, Concat(AgreedOption, GeneveOption(0x0999, 0x01, [1, 2, 3, 4])), flags: 0x40), inner);
        Assert.Equal(DropReason.None, Classify(Outer(HostC, Vtep, 6081, tunnel), out Decapsulated d));
        Assert.Equal(PortB, d.Egress!.PortId);
        Assert.Equal(2, d.GeneveOptions);
        Assert.Equal(1, d.GeneveCriticalOptions);
        Assert.Equal(50 + 20, d.InnerOffset);
    }

    [Fact]
    public void First_hop_checks_hold_for_remote_VMs_too()
    {
        const string redCLinkLocal = "fe80::ff:fe00:3";
        byte[] ra = FirstHopFrames.Ipv6(RedC, "33:33:00:00:00:01", redCLinkLocal, "ff02::1", FirstHopFrames.Icmpv6Next, FirstHopFrames.RouterAdvertisement);
        Assert.Equal(DropReason.RogueRouterAdvertisement, Classify(Vxlan(ra), out _));
        byte[] redirect = FirstHopFrames.Ipv6(RedC, RedA, redCLinkLocal, "fd00::1", FirstHopFrames.Icmpv6Next, FirstHopFrames.Redirect);
        Assert.Equal(DropReason.RogueRedirect, Classify(Vxlan(redirect), out _));
        // Remote VMs have no IPv6 bindings here: the target link-layer address is what can be checked.
        byte[] na = FirstHopFrames.Ipv6(RedC, RedA, "fd00::3", "fd00::1", FirstHopFrames.Icmpv6Next, FirstHopFrames.NeighborAdvertisement("fd00::3", RedD));
        Assert.Equal(DropReason.SpoofedNeighborAdvertisement, Classify(Vxlan(na), out _));
        na = FirstHopFrames.Ipv6(RedC, RedA, "fd00::3", "fd00::1", FirstHopFrames.Icmpv6Next, FirstHopFrames.NeighborAdvertisement("fd00::3", RedC));
        Assert.Equal(DropReason.None, Classify(Vxlan(na), out _));
        Assert.Equal(DropReason.RogueDhcpServer, Classify(Vxlan(Frames.Udp4(RedC, RedA, "10.0.0.3", "10.0.0.1", 67, 68)), out _));
        byte[] dhcpv6 = FirstHopFrames.Ipv6(RedC, "33:33:00:01:00:02", "fd00::3", "ff02::1:2", FirstHopFrames.UdpNext, FirstHopFrames.UdpDatagram(547, 546));
        Assert.Equal(DropReason.RogueDhcpServer, Classify(Vxlan(dhcpv6), out _));
        Assert.Equal(DropReason.MalformedUdp, Classify(Vxlan(FirstHopFrames.Udp4Cut(RedC, RedA, "10.0.0.3", "10.0.0.1", 1000, 2000, udpBytes: 6)), out _));

        // remote_vms[].allow_routing lets a remote VM be the tenant's router.
        SwitchSpec spec = Spec;
        spec = spec with { RemoteVms = spec.RemoteVms.SetItem(0, spec.RemoteVms[0] with { AllowRouting = true }) };
        SwitchTables router = Build(spec);
        Assert.Equal(DropReason.None, Decapsulation.Classify(router, router.Overlay!, Vxlan(ra), out Decapsulated d));
        Assert.Equal(UplinkAction.Flood, d.Action);
    }

    [Fact]
    public void Broadcast_from_a_tunnel_floods_locally()
    {
        Assert.Equal(DropReason.None, Classify(Vxlan(FromC("ff:ff:ff:ff:ff:ff", dstIp: "10.0.0.255")), out Decapsulated d));
        Assert.Equal(UplinkAction.Flood, d.Action);
        Assert.Equal(0, d.TenantIndex);
    }

    [Fact]
    public void Trailing_bytes_after_the_outer_datagram_are_not_part_of_the_inner_frame()
    {
        byte[] inner = FromC();
        byte[] frame = [.. Vxlan(inner), 0, 0, 0, 0];
        Assert.Equal(DropReason.None, Classify(frame, out Decapsulated d));
        Assert.Equal(inner.Length, d.InnerLength);
    }

    public static TheoryData<string, byte[], DropReason> Refused()
    {
        byte[] good = Vxlan(FromC());
        byte[] ipOptions = [0x01, 0x01, 0x01, 0x00];
        var data = new TheoryData<string, byte[], DropReason>
        {
            { "runt", good[..13], DropReason.RuntFrame },
            { "over the uplink MTU", Vxlan(Frames.Udp4(RedC, RedA, "10.0.0.3", "10.0.0.1", payload: 1500)), DropReason.Oversize },
            { "IPv6 on the uplink", Frames.Udp6(RedC, RedA, "fd00::3", "fd00::1"), DropReason.UplinkNotTunnel },
            { "plain IPv4 UDP to another port", Outer(HostB, Vtep, 53, VxlanHeader(1)), DropReason.UplinkNotTunnel },
            { "TCP to our VTEP", Outer(HostB, Vtep, 4789, VxlanHeader(1), protocol: 6), DropReason.UplinkNotTunnel },
            { "ARP for another address", Frames.ArpRequest(NextHopB, HostB, "192.168.50.77"), DropReason.UplinkNotTunnel },
            { "ARP cut short", Frames.ArpRequest(NextHopB, HostB, Vtep)[..30], DropReason.MalformedArp },
            { "outer IPv4 cut at 19 bytes", good[..33], DropReason.MalformedOuter },
            { "outer total length beyond the frame", good[..60], DropReason.MalformedOuter },
            { "outer fragment (MF)", Outer(HostB, Vtep, 4789, Concat(VxlanHeader(RedVni), FromC()), fragment: 0x2000), DropReason.OuterFragment },
            { "outer fragment (offset)", Outer(HostB, Vtep, 4789, Concat(VxlanHeader(RedVni), FromC()), fragment: 0x0010), DropReason.OuterFragment },
            { "outer IP options", Outer(HostB, Vtep, 4789, Concat(VxlanHeader(RedVni), FromC()), ipOptions: ipOptions), DropReason.OuterIpOptions },
            { "to another VTEP", Vxlan(FromC(), dst: "192.168.50.9"), DropReason.WrongDestinationVtep },
            { "from an unknown VTEP", Vxlan(FromC(), src: "192.168.50.9"), DropReason.UnknownSourceVtep },
            { "GENEVE from a VXLAN host", Outer(HostB, Vtep, 6081, Concat(GeneveHeader(RedVni, []), FromC())), DropReason.TunnelTypeMismatch },
            { "VXLAN from a GENEVE host", Outer(HostC, Vtep, 4789, Concat(VxlanHeader(RedVni), FromC())), DropReason.TunnelTypeMismatch },
            { "VXLAN without the I flag", Outer(HostB, Vtep, 4789, Concat([0, 0, 0, 0, 0, 0x13, 0x89, 0], FromC())), DropReason.MalformedTunnelHeader },
            { "VXLAN header cut short", Outer(HostB, Vtep, 4789, VxlanHeader(RedVni)[..6]), DropReason.MalformedTunnelHeader },
            { "GENEVE Opt Len beyond the packet", Outer(HostC, Vtep, 6081, GeneveHeader(RedVni, [], optLenWords: 40)), DropReason.BadGeneveOptionLength },
            { "GENEVE option longer than Opt Len", Outer(HostC, Vtep, 6081, Concat(GeneveHeader(RedVni, GeneveOption(1, 1, [1, 2, 3, 4], lengthWords: 5)), FromC())), DropReason.BadGeneveOptionLength },
            { "GENEVE unknown critical option", Outer(HostC, Vtep, 6081, Concat(GeneveHeader(RedVni, GeneveOption(0x0102, 0x81, [1, 2, 3, 4]), flags: 0x40), FromC())), DropReason.GeneveCriticalOption },
            { "GENEVE control packet", Outer(HostC, Vtep, 6081, Concat(GeneveHeader(RedVni, [], flags: 0x80), FromC())), DropReason.GeneveControlPacket },
            { "unknown VNI", Vxlan(FromC(), vni: 77), DropReason.UnknownVni },
            { "inner frame of 13 bytes", Vxlan(FromC()[..13]), DropReason.MalformedInner },
            { "inner source MAC of no remote VM", Vxlan(Frames.Udp4("02:00:00:00:00:66", RedA, "10.0.0.3", "10.0.0.1")), DropReason.SpoofedInnerSource },
            { "inner source MAC of a VM on another host", Vxlan(Frames.Udp4(RedD, RedA, "10.0.0.4", "10.0.0.1")), DropReason.SpoofedInnerSource },
            { "inner source MAC of a local VM", Vxlan(Frames.Udp4(RedB, RedA, "10.0.0.2", "10.0.0.1")), DropReason.SpoofedInnerSource },
            { "inner VLAN tag", Vxlan(Frames.Raw(RedC, RedA, 0x8100, 46)), DropReason.VlanTagged },
            { "inner IPv4 cut short", Vxlan(FromC()[..30]), DropReason.MalformedIpv4 },
            { "inner IPv4 source not the remote VM's", Vxlan(FromC(srcIp: "10.0.0.4")), DropReason.SpoofedIpv4Source },
            { "inner ARP with a forged sender IP", Vxlan(Frames.ArpRequest(RedC, "10.0.0.9", "10.0.0.1")), DropReason.SpoofedArpSender },
            { "inner ARP cut short", Vxlan(Frames.ArpRequest(RedC, "10.0.0.3", "10.0.0.1")[..20]), DropReason.MalformedArp },
            { "inner IPv6 cut short", Vxlan(Frames.Raw(RedC, RedA, 0x86DD, 20)), DropReason.MalformedIpv6 },
            { "inner unicast to no local VM (never back into a tunnel)", Vxlan(FromC(dst: RedD, dstIp: "10.0.0.4")), DropReason.UnknownInnerDestination },
            // No (VTEP, VNI) tunnel matches these: the refusal still names the first check that fails.
            { "header cut short from an unknown VTEP", Outer("192.168.50.9", Vtep, 4789, VxlanHeader(RedVni)[..6]), DropReason.UnknownSourceVtep },
            { "GENEVE from a VXLAN host, unknown VNI", Outer(HostB, Vtep, 6081, Concat(GeneveHeader(77, []), FromC())), DropReason.TunnelTypeMismatch },
            { "VXLAN without the I flag, unknown VNI", Outer(HostB, Vtep, 4789, Concat([0, 0, 0, 0, 0, 0, 0x4D, 0], FromC())), DropReason.MalformedTunnelHeader },
            { "GENEVE unknown critical option, unknown VNI", Outer(HostC, Vtep, 6081, Concat(GeneveHeader(77, GeneveOption(0x0102, 0x81, [1, 2, 3, 4]), flags: 0x40), FromC())), DropReason.GeneveCriticalOption },
            { "blue's VNI from a host with no blue VM", Outer(HostC, Vtep, 6081, Concat(GeneveHeader(BlueVni, AgreedOption, flags: 0x40), Frames.Udp4(RedD, RedA, "10.0.0.4", "10.0.0.1"))), DropReason.SpoofedInnerSource },
            { "blue's VNI from a host with no blue VM, inner runt", Outer(HostC, Vtep, 6081, Concat(GeneveHeader(BlueVni, AgreedOption, flags: 0x40), FromC()[..13])), DropReason.MalformedInner },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public void Refuses(string what, byte[] frame, DropReason expected) =>
        Assert.True(Classify(frame, out _) == expected, $"{what}: {Classify(frame, out _)}, expected {expected}");

    [Fact]
    public void Inner_frame_beyond_the_VM_ports_MTU_is_dropped()
    {
        var spec = Spec;
        spec = spec with { Ports = spec.Ports.SetItem(1, spec.Ports[1] with { Mtu = 1400 }) };
        SwitchTables tables = Build(spec);
        byte[] frame = Vxlan(Frames.Udp4(RedC, RedB, "10.0.0.3", "10.0.0.2", payload: 1373)); // 1415 B inner, 1414 B allowed
        Assert.Equal(DropReason.EgressMtuExceeded, Decapsulation.Classify(tables, tables.Overlay!, frame, out _));
        frame = Vxlan(Frames.Udp4(RedC, RedB, "10.0.0.3", "10.0.0.2", payload: 1372));
        Assert.Equal(DropReason.None, Decapsulation.Classify(tables, tables.Overlay!, frame, out _));
    }

    [Fact]
    public void Arp_request_for_our_VTEP_is_answered_and_its_sender_learned()
    {
        byte[] request = Frames.ArpRequest(NextHopB, HostB, Vtep);
        Assert.Equal(DropReason.None, Classify(request, out Decapsulated d));
        Assert.Equal(UplinkAction.VtepArpReply, d.Action);
        Assert.Equal(0, d.NeighbourIndex); // host-b's VTEP is the first next hop
        Assert.Equal(TestTopology.Mac(NextHopB), d.LearnedMac);
        Assert.Equal(TestTopology.Mac(NextHopB), MacAddress.Read(request)); // back to the requester
        Assert.Equal(TestTopology.Mac(OurMac), MacAddress.Read(request.AsSpan(6)));
        Assert.Equal(Arp.OpReply, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(14 + Arp.OperOffset)));
        Assert.Equal(TestTopology.Mac(OurMac), MacAddress.Read(request.AsSpan(14 + Arp.SenderMacOffset)));
        Assert.Equal(Ipv4.ParseAddress(Vtep), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(request.AsSpan(14 + Arp.SenderIpOffset)));
    }

    [Fact]
    public void Arp_reply_from_the_gateway_is_learned()
    {
        byte[] reply = Frames.ArpRequest("02:cc:00:00:00:fe", Gateway, Vtep);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(14 + Arp.OperOffset), Arp.OpReply);
        Assert.Equal(DropReason.None, Classify(reply, out Decapsulated d));
        Assert.Equal(UplinkAction.NeighbourLearned, d.Action);
        Assert.Equal(2, d.NeighbourIndex); // host-b, host-c, then the gateway for host-d
        Assert.Equal(0x02CC_0000_00FEUL, d.LearnedMac);

        // A reply from an address we never asked about is not ours.
        byte[] stranger = Frames.ArpRequest("02:cc:00:00:00:01", "192.168.50.77", Vtep);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(stranger.AsSpan(14 + Arp.OperOffset), Arp.OpReply);
        Assert.Equal(DropReason.UplinkNotTunnel, Classify(stranger, out _));
    }

    [Fact]
    public void Encapsulation_checks_the_uplink_MTU_then_the_neighbour()
    {
        OverlayTables overlay = s_tables.Overlay!;
        TunnelEndpoint toB = Endpoint(overlay, RedC), toD = Endpoint(overlay, RedE);
        Assert.Equal(DropReason.None, Encapsulation.Check(overlay, toB, 1464, out ulong mac));
        Assert.Equal(TestTopology.Mac(NextHopB), mac);
        Assert.Equal(DropReason.EncapExceedsMtu, Encapsulation.Check(overlay, toB, 1465, out _));
        Assert.Equal(DropReason.NeighbourUnresolved, Encapsulation.Check(overlay, toD, 100, out _));
        Assert.Equal(DropReason.EncapExceedsMtu, Encapsulation.Check(overlay, toD, 1465, out _));
        // GENEVE with a 12-byte option: 12 bytes less room.
        Assert.Equal(DropReason.EncapExceedsMtu, Encapsulation.Check(overlay, Endpoint(overlay, RedD), 1453, out _));
        Assert.Equal(DropReason.None, Encapsulation.Check(overlay, Endpoint(overlay, RedD), 1452, out _));
    }

    private static TunnelEndpoint Endpoint(OverlayTables overlay, string mac) =>
        overlay.RemoteMacs.TryGetValue(SwitchTables.MacKey(0, TestTopology.Mac(mac)), out RemoteVm? vm) ? vm.Endpoint : throw new InvalidOperationException(mac);
}
