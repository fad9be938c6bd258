using System.Buffers.Binary;
using VSwitch.Dataplane.Switching;
using Xunit;
using static VSwitch.Tests.Unit.Switching.TestTopology;
using VSwitch.Dataplane.Counters;

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
    public void KnownUnicastGoesToTheOwnersPort() => AssertUnicast(0, Frames.Udp4(MacA, MacB, IpA, IpB), egress: 1);

    [Fact]
    public void OverlappingTenantsResolveTheSameMacToTheirOwnPort()
    {
        AssertUnicast(0, Frames.Udp4(MacA, MacB, IpA, IpB), egress: 1); // red-a -> red-b
        AssertUnicast(3, Frames.Udp4(MacA, MacB, IpA, IpB), egress: 4); // blue-a -> blue-b
        AssertFlood(3, Frames.Udp4(MacA, MacC, IpA, IpC), ForwardAction.FloodLocal); // red-c's MAC is unknown in blue
    }

    [Theory]
    [InlineData("ff:ff:ff:ff:ff:ff")]
    [InlineData("01:00:5e:00:00:01")]
    [InlineData("33:33:00:00:00:01")]
    public void BroadcastAndMulticastFlood(string destination) =>
        AssertFlood(0, Frames.Udp4(MacA, destination, IpA, "10.0.0.99"));

    [Fact]
    public void UnknownUnicastFloodsToLocalPortsOnly() =>
        AssertFlood(0, Frames.Udp4(MacA, "02:00:00:00:00:99", IpA, "10.0.0.99"), ForwardAction.FloodLocal);

    [Fact]
    public void FloodListsHoldOnlyTheTenantsOwnPorts()
    {
        Assert.Equal([0, 1, 2], _tables.FloodPorts[0].Select(p => (int)p.PortId));
        Assert.Equal([3, 4], _tables.FloodPorts[1].Select(p => (int)p.PortId));
    }

    [Fact]
    public void ArpRequestForATenantAddressIsAnsweredInPlace()
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
    public void ArpForAnotherTenantsAddressIsFloodedNotAnswered() => AssertFlood(3, Frames.ArpRequest(MacA, IpA, IpC));

    [Fact]
    public void GratuitousArpIsFloodedNotAnswered() => AssertFlood(0, Frames.ArpRequest(MacA, IpA, IpA));

    [Fact]
    public void SpoofedSourceMacIsDropped() => AssertDrop(0, Frames.Udp4(MacB, MacC, IpA, IpC), DropReason.SpoofedSourceMac);

    [Fact]
    public void SpoofedIpv4SourceIsDropped() => AssertDrop(0, Frames.Udp4(MacA, MacB, IpC, IpB), DropReason.SpoofedIpv4Source);

    [Fact]
    public void ArpWithAForgedSenderMacIsDropped() =>
        AssertDrop(0, Frames.ArpRequest(MacC, IpA, IpB, ethSrc: MacA), DropReason.SpoofedArpSender);

    [Fact]
    public void ArpWithAForgedSenderIpIsDropped() => AssertDrop(0, Frames.ArpRequest(MacA, IpC, IpB), DropReason.SpoofedArpSender);

    [Theory]
    [InlineData("fd00::a", DropReason.None)]
    [InlineData("fe80::ff:fe00:a", DropReason.None)] // modified EUI-64 of 02:00:00:00:00:0a
    [InlineData("fe80::1", DropReason.SpoofedIpv6Source)]
    [InlineData("fd00::b", DropReason.SpoofedIpv6Source)]
    public void Ipv6SourceMustBeBoundOrTheVmsLinkLocal(string source, DropReason expected) =>
        AssertDrop(0, Frames.Udp6(MacA, MacB, source, "fd00::b"), expected);

    [Theory]
    [InlineData(0x8100)]
    [InlineData(0x88A8)]
    [InlineData(0x9100)]
    public void VlanTaggedFramesAreDropped(int tpid) => AssertDrop(0, Frames.Raw(MacA, MacB, (ushort)tpid, 46), DropReason.VlanTagged);

    [Fact]
    public void OtherEtherTypesAreSwitchedAfterTheSourceCheck()
    {
        AssertUnicast(0, Frames.Raw(MacA, MacB, 0x88B5, 46), egress: 1);
        AssertDrop(0, Frames.Raw(MacC, MacB, 0x88B5, 46), DropReason.SpoofedSourceMac);
    }

    [Fact]
    public void RuntFramesAreDropped() => AssertDrop(0, new byte[13], DropReason.RuntFrame);

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
    public void MalformedIpv4IsDropped(string name, int offset, int value)
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
    public void PaddedIpv4ShorterThanTheFrameIsValid()
    {
        byte[] frame = Frames.Udp4(MacA, MacB, IpA, IpB, payload: 0); // 42 bytes
        Array.Resize(ref frame, 60); // Ethernet minimum with padding
        AssertUnicast(0, frame, egress: 1);
    }

    [Fact]
    public void MalformedArpIsDropped()
    {
        byte[] frame = Frames.ArpRequest(MacA, IpA, IpB);
        AssertDrop(0, frame[..(14 + 7)], DropReason.MalformedArp);
        AssertDrop(0, frame[..(14 + 27)], DropReason.MalformedArp); // hlen/plen claim 28
        byte[] longClaim = (byte[])frame.Clone();
        longClaim[14 + 4] = 16; // hlen 16: claims 48 bytes
        AssertDrop(0, longClaim, DropReason.MalformedArp);
    }

    [Fact]
    public void MalformedIpv6IsDropped()
    {
        byte[] frame = Frames.Udp6(MacA, MacB, "fd00::a", "fd00::b");
        AssertDrop(0, frame[..(14 + 39)], DropReason.MalformedIpv6);
        byte[] longPayload = (byte[])frame.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(longPayload.AsSpan(14 + 4), 1000);
        AssertDrop(0, longPayload, DropReason.MalformedIpv6);
    }

    [Fact]
    public void FramesLongerThanTheIngressMtuAreDropped()
    {
        AssertUnicast(0, Frames.Udp4(MacA, MacB, IpA, IpB, payload: 1500 - 28), egress: 1); // 1514 bytes
        AssertDrop(0, Frames.Udp4(MacA, MacB, IpA, IpB, payload: 1500 - 27), DropReason.Oversize); // 1515 bytes
    }

    [Fact]
    public void FramesLongerThanTheEgressMtuAreDropped()
    {
        SwitchTables tables = Build(redBMtu: 1400);
        byte[] frame = Frames.Udp4(MacA, MacB, IpA, IpB, payload: 1401 - 28);
        Assert.Equal(DropReason.EgressMtuExceeded, L2Switch.Classify(tables, tables.Ports[0]!, frame, out _));
    }

    [Fact]
    public void UnicastToTheSendersOwnMacIsAHairpinDrop() => AssertDrop(0, Frames.Udp4(MacA, MacA, IpA, IpA), DropReason.Hairpin);

    [Fact]
    public void ClassifyingAllocatesNothing()
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
