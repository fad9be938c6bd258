// The encapsulation and decapsulation stages run on the poll-mode workers, which must never
// allocate (a collection would stop them). Each stage runs many times over every kind of frame;
// the thread's allocation counter must not move.
using VSwitch.Dataplane.Overlay;
using VSwitch.Dataplane.Switching;
using VSwitch.Tests.Unit.Switching;
using Xunit;
using static VSwitch.Tests.Unit.Overlay.OverlayTopology;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Overlay;

public class AllocationTests
{
    private static readonly SwitchTables s_tables = Build();

    private static readonly byte[][] s_fromVm =
    [
        Frames.Udp4(RedA, RedC, "10.0.0.1", "10.0.0.3"), // VXLAN
        Frames.Udp4(RedA, RedD, "10.0.0.1", "10.0.0.4"), // GENEVE
        Frames.Udp4(RedA, "ff:ff:ff:ff:ff:ff", "10.0.0.1", "10.0.0.255"), // BUM
        Frames.ArpRequest(RedA, "10.0.0.1", "10.0.0.3"), // responder, remote VM
        Frames.Udp4(RedA, "ff:ff:ff:ff:ff:ff", "10.0.0.1", "255.255.255.255", 67, 68), // rogue DHCP server
        FirstHopFrames.Ipv6(RedA, "33:33:00:00:00:01", "fe80::ff:fe00:1", "ff02::1", FirstHopFrames.Icmpv6Next, FirstHopFrames.RouterAdvertisement,
            (FirstHopFrames.HopByHop, FirstHopFrames.Options8)), // rogue RA behind an extension header
        FirstHopFrames.Ipv6(RedA, "33:33:00:00:00:01", "fe80::ff:fe00:1", "ff02::1", FirstHopFrames.Icmpv6Next,
            FirstHopFrames.NeighborAdvertisement("fe80::ff:fe00:1", RedA)), // own neighbor advertisement
    ];

    private static readonly byte[][] s_fromUplink =
    [
        Outer(HostB, Vtep, 4789, Concat(VxlanHeader(RedVni), Frames.Udp4(RedC, RedA, "10.0.0.3", "10.0.0.1"))),
        Outer(HostC, Vtep, 6081, Concat(GeneveHeader(RedVni, AgreedOption, flags: 0x40), Frames.Udp4(RedD, RedA, "10.0.0.4", "10.0.0.1"))),
        Outer(HostC, Vtep, 6081, Concat(GeneveHeader(RedVni, GeneveOption(1, 0x80, []), flags: 0x40), Frames.Udp4(RedD, RedA, "10.0.0.4", "10.0.0.1"))),
        Outer(HostB, Vtep, 4789, Concat(VxlanHeader(77), Frames.Udp4(RedC, RedA, "10.0.0.3", "10.0.0.1"))),
        Outer("192.168.50.9", Vtep, 4789, Concat(VxlanHeader(RedVni), Frames.Udp4(RedC, RedA, "10.0.0.3", "10.0.0.1"))),
        Frames.ArpRequest(NextHopB, HostB, Vtep),
        Frames.Udp6(RedC, RedA, "fd00::3", "fd00::1"),
        WithByte(Outer(HostB, Vtep, 4789, Concat(VxlanHeader(RedVni), Frames.Udp4(RedC, RedA, "10.0.0.3", "10.0.0.1"))), 0, 0xFF), // wrong_destination_mac
        WithByte(Outer(HostB, Vtep, 4789, Concat(VxlanHeader(RedVni), Frames.Udp4(RedC, RedA, "10.0.0.3", "10.0.0.1"))), 14 + 8, 1), // bad_outer_checksum
        WithByte(Frames.ArpRequest("02:cc:00:00:00:fe", Gateway, Vtep), 14 + 7, 2), // a reply from the gateway, learned
        WithByte(Frames.ArpRequest("02:cc:00:00:00:fe", Gateway, Vtep), 14 + 7, 3), // opcode 3, refused
        Outer(HostB, Vtep, 4789, Concat(VxlanHeader(RedVni), FirstHopFrames.Ipv6(RedC, RedA, "fd00::3", "fd00::1", FirstHopFrames.Icmpv6Next,
            FirstHopFrames.NeighborAdvertisement("fd00::3", RedD)))), // spoofed neighbor advertisement
        Outer(HostB, Vtep, 4789, Concat(VxlanHeader(RedVni), Frames.Udp4(RedC, RedA, "10.0.0.3", "10.0.0.1", 67, 68))), // rogue DHCP server
    ];

    [Fact]
    public void Encapsulation_and_decapsulation_allocate_nothing()
    {
        var buffer = new byte[2048];
        OverlayTables overlay = s_tables.Overlay!;
        RunOnce(buffer, overlay); // class constructors and first-call work outside the measurement
        long before = GC.GetAllocatedBytesForCurrentThread();
        int outcomes = 0;
        for (int i = 0; i < 10_000; i++)
            outcomes += RunOnce(buffer, overlay);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.True(outcomes > 0);
    }

    private static int RunOnce(byte[] buffer, OverlayTables overlay)
    {
        int delivered = 0;
        foreach (byte[] frame in s_fromVm)
        {
            frame.CopyTo(buffer, 0);
            Span<byte> copy = buffer.AsSpan(0, frame.Length);
            if (L2Switch.Classify(s_tables, s_tables.Ports[PortA]!, copy, out Forwarding f) == DropReason.None && f.Endpoint is { } endpoint
                && Encapsulation.Check(overlay, endpoint, frame.Length, out ulong nextHop) == DropReason.None)
            {
                frame.CopyTo(buffer, endpoint.HeaderLength);
                Encapsulation.Write(buffer.AsSpan(0, endpoint.HeaderLength + frame.Length), endpoint, nextHop,
                    Encapsulation.SourcePort(FlowHash.Compute(frame)));
                delivered++;
            }
        }
        foreach (byte[] frame in s_fromUplink)
        {
            frame.CopyTo(buffer, 0);
            if (Decapsulation.Classify(s_tables, overlay, buffer.AsSpan(0, frame.Length), out _) == DropReason.None)
                delivered++;
        }
        return delivered;
    }
}
