using System.Buffers.Binary;
using VSwitch.Dataplane.Overlay;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Switching;
using VSwitch.Tests.Unit.Switching;
using Xunit;
using static VSwitch.Tests.Unit.Overlay.OverlayTopology;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Overlay;

public class EncapsulationTests
{
    private readonly SwitchTables _tables = Build();

    private (DropReason, Forwarding) Classify(ushort port, byte[] frame) =>
        (L2Switch.Classify(_tables, _tables.Ports[port]!, frame, out Forwarding f), f);

    private byte[] Encapsulate(byte[] inner, TunnelEndpoint endpoint, ulong nextHop)
    {
        var packet = new byte[endpoint.HeaderLength + inner.Length];
        inner.CopyTo(packet, endpoint.HeaderLength);
        Encapsulation.Write(packet, endpoint, nextHop, Encapsulation.SourcePort(FlowHash.Compute(inner)));
        return packet;
    }

    [Fact]
    public void Unicast_to_a_remote_VM_is_encapsulated_toward_its_host_with_the_tenant_VNI()
    {
        var (reason, fwd) = Classify(PortA, Frames.Udp4(RedA, RedC, "10.0.0.1", "10.0.0.3"));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(ForwardAction.Encapsulate, fwd.Action);
        Assert.Equal("host-b", fwd.Endpoint!.Host.Name);
        Assert.Equal(RedVni, fwd.Endpoint.Vni);
        // Blue's VM with the same MAC on the same host gets blue's VNI.
        Assert.Equal(BlueVni, (L2Switch.Classify(_tables, _tables.Ports[PortBlue]!, Frames.Udp4(RedA, RedC, "10.0.0.1", "10.0.0.3"), out Forwarding blue), blue).Item2.Endpoint!.Vni);
    }

    [Fact]
    public void Unknown_unicast_is_never_replicated_to_remote_hosts_broadcast_and_multicast_are()
    {
        // Every remote VM's MAC is programmed: a remote host could only drop an unknown destination.
        Assert.Equal(ForwardAction.FloodLocal, Classify(PortA, Frames.Udp4(RedA, "02:00:00:00:00:99", "10.0.0.1", "10.0.0.99")).Item2.Action);
        Assert.Equal(ForwardAction.Flood, Classify(PortA, Frames.Udp4(RedA, "ff:ff:ff:ff:ff:ff", "10.0.0.1", "10.0.0.255")).Item2.Action);
        Assert.Equal(ForwardAction.Flood, Classify(PortA, Frames.Udp4(RedA, "01:00:5e:00:00:fb", "10.0.0.1", "224.0.0.251")).Item2.Action);
        // Blue's remote VM's MAC is no destination of red's.
        Assert.Equal(ForwardAction.FloodLocal, Classify(PortBlue, Frames.Udp4(RedA, RedD, "10.0.0.1", "10.0.0.4")).Item2.Action);
    }

    [Fact]
    public void Arp_responder_answers_for_remote_VMs_too()
    {
        byte[] request = Frames.ArpRequest(RedA, "10.0.0.1", "10.0.0.4");
        var (reason, fwd) = Classify(PortA, request);
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(ForwardAction.ReplyToSender, fwd.Action);
        Assert.Equal(TestTopology.Mac(RedD), MacAddress.Read(request.AsSpan(6, 6)));
    }

    [Fact]
    public void Vxlan_outer_headers_are_complete_and_checksummed()
    {
        byte[] inner = Frames.Udp4(RedA, RedC, "10.0.0.1", "10.0.0.3", payload: 100);
        TunnelEndpoint endpoint = _tables.Overlay!.RemoteMacs.TryGetValue(SwitchTables.MacKey(0, TestTopology.Mac(RedC)), out RemoteVm? vm) ? vm.Endpoint : throw new Xunit.Sdk.XunitException("red-c missing");
        byte[] packet = Encapsulate(inner, endpoint, TestTopology.Mac(NextHopB));
        Assert.Equal(50 + inner.Length, packet.Length);
        Assert.Equal(TestTopology.Mac(NextHopB), MacAddress.Read(packet));
        Assert.Equal(TestTopology.Mac(OurMac), MacAddress.Read(packet.AsSpan(6)));
        Span<byte> ip = packet.AsSpan(14, 20);
        Assert.Equal(0x45, ip[0]);
        Assert.Equal(packet.Length - 14, BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(2)));
        Assert.Equal(0x4000, BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(6))); // DF, offset 0
        Assert.Equal(32, ip[8]); // overlay.ttl
        Assert.Equal(17, ip[9]);
        Assert.Equal(0, Rfc1071(ip)); // the checksum verifies (an independent implementation)
        Assert.Equal(Ipv4.ParseAddress(Vtep), BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(12)));
        Assert.Equal(Ipv4.ParseAddress(HostB), BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(16)));
        Span<byte> udp = packet.AsSpan(34, 8);
        Assert.InRange(BinaryPrimitives.ReadUInt16BigEndian(udp), 49152, 65535);
        Assert.Equal(4789, BinaryPrimitives.ReadUInt16BigEndian(udp.Slice(2)));
        Assert.Equal(packet.Length - 34, BinaryPrimitives.ReadUInt16BigEndian(udp.Slice(4)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(udp.Slice(6)));
        Assert.Equal(VxlanHeader(RedVni), packet.AsSpan(42, 8).ToArray());
        Assert.Equal(inner, packet.AsSpan(50).ToArray());
    }

    [Fact]
    public void Geneve_outer_headers_carry_the_hosts_options()
    {
        byte[] inner = Frames.Udp4(RedA, RedD, "10.0.0.1", "10.0.0.4");
        var (_, fwd) = Classify(PortA, inner);
        byte[] packet = Encapsulate(inner, fwd.Endpoint!, TestTopology.Mac(NextHopC));
        Assert.Equal(50 + 12 + inner.Length, packet.Length);
        Assert.Equal(6081, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(36)));
        Assert.Equal(GeneveHeader(RedVni, AgreedOption, flags: 0x40), packet.AsSpan(42, 20).ToArray());
        Assert.Equal(0, Rfc1071(packet.AsSpan(14, 20)));
        Assert.Equal(inner, packet.AsSpan(62).ToArray());
    }

    [Theory]
    [InlineData(60)]
    [InlineData(61)]
    [InlineData(1000)]
    [InlineData(1464)]
    public void The_checksum_verifies_for_every_length(int innerLength)
    {
        var (_, fwd) = Classify(PortA, Frames.Udp4(RedA, RedD, "10.0.0.1", "10.0.0.4"));
        byte[] inner = Frames.Udp4(RedA, RedD, "10.0.0.1", "10.0.0.4", payload: innerLength - 42);
        byte[] packet = Encapsulate(inner, fwd.Endpoint!, 0x02BB_0000_0003);
        Assert.Equal(0, Rfc1071(packet.AsSpan(14, 20)));
    }

    [Fact]
    public void Source_ports_spread_over_49152_to_65535_and_stay_per_flow()
    {
        var ports = new HashSet<ushort>();
        for (ushort flow = 0; flow < 2000; flow++)
        {
            byte[] frame = Frames.Udp4(RedA, RedC, "10.0.0.1", "10.0.0.3", srcPort: (ushort)(1024 + flow));
            ushort port = Encapsulation.SourcePort(FlowHash.Compute(frame));
            Assert.InRange(port, 49152, 65535);
            Assert.Equal(port, Encapsulation.SourcePort(FlowHash.Compute(frame)));
            ports.Add(port);
        }
        // 2000 flows into 16384 ports: a uniform hash leaves ~1880 distinct; far fewer means no entropy.
        Assert.True(ports.Count > 1800, $"{ports.Count} distinct source ports for 2000 flows");
        Assert.Contains(ports, p => p < 53248);
        Assert.Contains(ports, p => p >= 61440);
        Assert.Equal(49152, Encapsulation.SourcePort(0));
        Assert.Equal(65535, Encapsulation.SourcePort(uint.MaxValue));
    }

    [Fact]
    public void Ipv4_header_checksum_matches_RFC_1071_example()
    {
        // The header of RFC 1071's era example, checked against the plain implementation.
        byte[] header = Convert.FromHexString("450000730000400040110000C0A80001C0A800C7");
        Assert.Equal(0xB861, Ipv4.HeaderChecksum(header));
        Assert.Equal(Rfc1071(header), Ipv4.HeaderChecksum(header));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), 0xB861);
        Assert.True(Ipv4.ChecksumVerifies(header));
    }
}
