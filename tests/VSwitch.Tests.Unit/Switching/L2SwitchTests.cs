using System.Buffers.Binary;
using VSwitch.Dataplane.Switching;
using Xunit;
using static VSwitch.Tests.Unit.Switching.TestTopology;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Switching;

public class L2SwitchTests
{
    private readonly SwitchTables _tables = Build();

    private PortBinding Port(ushort id) => _tables.Ports[id]!;

    private (DropReason Reason, Forwarding Forwarding) Classify(ushort ingress, byte[] frame)
    {
        DropReason reason = L2Switch.Classify(_tables, Port(ingress), frame, out Forwarding forwarding);
        return (reason, forwarding);
    }

    private void AssertUnicast(ushort ingress, byte[] frame, ushort egress)
    {
        var (reason, fwd) = Classify(ingress, frame);
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(ForwardAction.Unicast, fwd.Action);
        Assert.Equal(egress, fwd.Egress!.PortId);
    }

    private void AssertFlood(ushort ingress, byte[] frame, ForwardAction action = ForwardAction.Flood)
    {
        var (reason, fwd) = Classify(ingress, frame);
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(action, fwd.Action);
    }

    private void AssertDrop(ushort ingress, byte[] frame, DropReason expected) => Assert.Equal(expected, Classify(ingress, frame).Reason);

    [Fact]
    public void Known_unicast_goes_to_the_owners_port() => AssertUnicast(0, Frames.Udp4(MacA, MacB, IpA, IpB), egress: 1);

    [Fact]
    public void Overlapping_tenants_resolve_the_same_MAC_to_their_own_port()
    {
        AssertUnicast(0, Frames.Udp4(MacA, MacB, IpA, IpB), egress: 1); // red-a -> red-b
        AssertUnicast(3, Frames.Udp4(MacA, MacB, IpA, IpB), egress: 4); // blue-a -> blue-b
        AssertFlood(3, Frames.Udp4(MacA, MacC, IpA, IpC), ForwardAction.FloodLocal); // red-c's MAC is unknown in blue
    }

    [Theory]
    [InlineData("ff:ff:ff:ff:ff:ff")]
    [InlineData("01:00:5e:00:00:01")]
    [InlineData("33:33:00:00:00:01")]
    public void Broadcast_and_multicast_flood(string destination) =>
        AssertFlood(0, Frames.Udp4(MacA, destination, IpA, "10.0.0.99"));

    [Fact]
    public void Unknown_unicast_floods_to_local_ports_only() =>
        AssertFlood(0, Frames.Udp4(MacA, "02:00:00:00:00:99", IpA, "10.0.0.99"), ForwardAction.FloodLocal);

    [Fact]
    public void Flood_lists_hold_only_the_tenants_own_ports()
    {
        Assert.Equal([0, 1, 2], _tables.FloodPorts[0].Select(p => (int)p.PortId));
        Assert.Equal([3, 4], _tables.FloodPorts[1].Select(p => (int)p.PortId));
    }

    [Fact]
    public void ARP_request_for_a_tenant_address_is_answered_in_place()
    {
        byte[] frame = Frames.ArpRequest(MacA, IpA, IpB);
        Assert.Equal(42, frame.Length); // a short but valid ARP frame is not malformed
        var (reason, fwd) = Classify(0, frame);
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(ForwardAction.ReplyToSender, fwd.Action);
        Assert.Equal((ushort)0, fwd.Egress!.PortId);

        var reply = (PacketDotNet.EthernetPacket)PacketDotNet.Packet.ParsePacket(PacketDotNet.LinkLayers.Ethernet, frame);
        var arp = reply.Extract<PacketDotNet.ArpPacket>();
        Assert.Equal(Frames.Mac(MacA), reply.DestinationHardwareAddress);
        Assert.Equal(Frames.Mac(MacB), reply.SourceHardwareAddress);
        Assert.Equal(PacketDotNet.ArpOperation.Response, arp.Operation);
        Assert.Equal(Frames.Mac(MacB), arp.SenderHardwareAddress);
        Assert.Equal(IpB, arp.SenderProtocolAddress.ToString());
        Assert.Equal(Frames.Mac(MacA), arp.TargetHardwareAddress);
        Assert.Equal(IpA, arp.TargetProtocolAddress.ToString());
    }

    [Fact]
    public void ARP_for_another_tenants_address_is_flooded_not_answered() => AssertFlood(3, Frames.ArpRequest(MacA, IpA, IpC));

    [Fact]
    public void Gratuitous_ARP_is_flooded_not_answered() => AssertFlood(0, Frames.ArpRequest(MacA, IpA, IpA));

    [Fact]
    public void Spoofed_source_MAC_is_dropped() => AssertDrop(0, Frames.Udp4(MacB, MacC, IpA, IpC), DropReason.SpoofedSourceMac);

    [Fact]
    public void Spoofed_IPv4_source_is_dropped() => AssertDrop(0, Frames.Udp4(MacA, MacB, IpC, IpB), DropReason.SpoofedIpv4Source);

    [Fact]
    public void ARP_with_a_forged_sender_MAC_is_dropped() =>
        AssertDrop(0, Frames.ArpRequest(MacC, IpA, IpB, ethSrc: MacA), DropReason.SpoofedArpSender);

    [Fact]
    public void ARP_with_a_forged_sender_IP_is_dropped() => AssertDrop(0, Frames.ArpRequest(MacA, IpC, IpB), DropReason.SpoofedArpSender);

    [Theory]
    [InlineData("fd00::a", DropReason.None)]
    [InlineData("fe80::ff:fe00:a", DropReason.None)] // modified EUI-64 of 02:00:00:00:00:0a
    [InlineData("fe80::1", DropReason.SpoofedIpv6Source)]
    [InlineData("fd00::b", DropReason.SpoofedIpv6Source)]
    public void IPv6_source_must_be_bound_or_the_VMs_link_local(string source, DropReason expected) =>
        AssertDrop(0, Frames.Udp6(MacA, MacB, source, "fd00::b"), expected);

    [Theory]
    [InlineData(0x8100)]
    [InlineData(0x88A8)]
    [InlineData(0x9100)]
    public void VLAN_tagged_frames_are_dropped(int tpid) => AssertDrop(0, Frames.Raw(MacA, MacB, (ushort)tpid, 46), DropReason.VlanTagged);

    [Fact]
    public void Other_ether_types_are_switched_after_the_source_check()
    {
        AssertUnicast(0, Frames.Raw(MacA, MacB, 0x88B5, 46), egress: 1);
        AssertDrop(0, Frames.Raw(MacC, MacB, 0x88B5, 46), DropReason.SpoofedSourceMac);
    }

    [Fact]
    public void Runt_frames_are_dropped() => AssertDrop(0, new byte[13], DropReason.RuntFrame);

    public static TheoryData<string, int, int> MalformedIpv4Cases => new()
    {
        // name, byte offset inside the IPv4 header to patch (-1: truncate), value
        { "shorter than 20 bytes", -1, 19 },
        { "IHL below 5", 0, 0x44 },
        { "IHL beyond the frame", 0, 0x4F },
        { "version not 4", 0, 0x65 },
        { "total length beyond the frame", 2, 0x0400 },
        { "total length below the header", 2, 19 },
    };

    [Theory]
    [MemberData(nameof(MalformedIpv4Cases))]
    public void Malformed_IPv4_is_dropped(string name, int offset, int value)
    {
        byte[] frame = Frames.Udp4(MacA, MacB, IpA, IpB, payload: 0);
        if (offset < 0)
            frame = frame[..(14 + value)];
        else if (offset == 2)
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + offset), (ushort)value);
        else
            frame[14 + offset] = (byte)value;
        Assert.True(DropReason.MalformedIpv4 == Classify(0, frame).Reason, name);
    }

    [Fact]
    public void Padded_IPv4_shorter_than_the_frame_is_valid()
    {
        byte[] frame = Frames.Udp4(MacA, MacB, IpA, IpB, payload: 0); // 42 bytes
        Array.Resize(ref frame, 60); // Ethernet minimum with padding
        AssertUnicast(0, frame, egress: 1);
    }

    [Fact]
    public void Malformed_ARP_is_dropped()
    {
        byte[] frame = Frames.ArpRequest(MacA, IpA, IpB);
        AssertDrop(0, frame[..(14 + 7)], DropReason.MalformedArp);
        AssertDrop(0, frame[..(14 + 27)], DropReason.MalformedArp); // hlen/plen claim 28
        byte[] longClaim = (byte[])frame.Clone();
        longClaim[14 + 4] = 16; // hlen 16: claims 48 bytes
        AssertDrop(0, longClaim, DropReason.MalformedArp);
    }

    [Fact]
    public void Malformed_IPv6_is_dropped()
    {
        byte[] frame = Frames.Udp6(MacA, MacB, "fd00::a", "fd00::b");
        AssertDrop(0, frame[..(14 + 39)], DropReason.MalformedIpv6);
        byte[] longPayload = (byte[])frame.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(longPayload.AsSpan(14 + 4), 1000);
        AssertDrop(0, longPayload, DropReason.MalformedIpv6);
    }

    [Fact]
    public void Frames_longer_than_the_ingress_MTU_are_dropped()
    {
        AssertUnicast(0, Frames.Udp4(MacA, MacB, IpA, IpB, payload: 1500 - 28), egress: 1); // 1514 bytes
        AssertDrop(0, Frames.Udp4(MacA, MacB, IpA, IpB, payload: 1500 - 27), DropReason.Oversize); // 1515 bytes
    }

    [Fact]
    public void Frames_longer_than_the_egress_MTU_are_dropped()
    {
        SwitchTables tables = Build(redBMtu: 1400);
        byte[] frame = Frames.Udp4(MacA, MacB, IpA, IpB, payload: 1401 - 28);
        Assert.Equal(DropReason.EgressMtuExceeded, L2Switch.Classify(tables, tables.Ports[0]!, frame, out _));
    }

    [Fact]
    public void Unicast_to_the_senders_own_MAC_is_a_hairpin_drop() => AssertDrop(0, Frames.Udp4(MacA, MacA, IpA, IpA), DropReason.Hairpin);

    [Fact]
    public void Classifying_allocates_nothing()
    {
        byte[][] frames =
        [
            Frames.Udp4(MacA, MacB, IpA, IpB),
            Frames.Udp4(MacA, "ff:ff:ff:ff:ff:ff", IpA, IpB),
            Frames.Udp6(MacA, MacB, "fd00::a", "fd00::b"),
            Frames.Udp4(MacB, MacC, IpA, IpC),
            Frames.Raw(MacA, MacB, 0x8100, 46),
            new byte[10],
        ];
        byte[] arpTemplate = Frames.ArpRequest(MacA, IpA, IpB);
        byte[] arp = new byte[arpTemplate.Length];
        PortBinding ingress = Port(0);
        RunClassifications(frames, arpTemplate, arp, ingress, 1000); // warm up: JIT, statics

        long before = GC.GetAllocatedBytesForCurrentThread();
        int forwarded = RunClassifications(frames, arpTemplate, arp, ingress, 1_000_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(1_000_000 / 7 * 4, forwarded);
    }

    private int RunClassifications(byte[][] frames, byte[] arpTemplate, byte[] arp, PortBinding ingress, int count)
    {
        int forwarded = 0;
        for (int i = 0; i < count / 7 * 7; i++)
        {
            int which = i % 7;
            Span<byte> frame = frames.Length > which ? frames[which] : arp;
            if (which == 6)
                arpTemplate.CopyTo(arp, 0); // the responder rewrites in place; start from the request again
            if (L2Switch.Classify(_tables, ingress, frame, out _) == DropReason.None)
                forwarded++;
        }
        return forwarded;
    }
}
