// The neighbour table learns a next hop's MAC only from ARP that the uplink accepts
// (Neighbours/UnderlayArp.cs): each frame here is refused, and the table stays as it was.
using System.Buffers.Binary;
using VSwitch.Dataplane.Overlay;
using VSwitch.Dataplane.Overlay.Neighbours;
using VSwitch.Dataplane.Protocols;
using VSwitch.Tests.Unit.Switching;
using Xunit;
using static VSwitch.Tests.Unit.Overlay.OverlayTopology;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Overlay;

public class UnderlayArpTests
{
    private const string GatewayMac = "02:cc:00:00:00:fe", Attacker = "02:66:00:00:00:66";
    private const int GatewayIndex = 2; // host-b, host-c, then the gateway (for host-d)

    private static readonly SwitchTables s_tables = Build();

    private static byte[] Arp(ushort operation, string senderMac, string senderIp, string targetIp)
    {
        byte[] frame = Frames.ArpRequest(senderMac, senderIp, targetIp);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + Dataplane.Protocols.Arp.OperOffset), operation);
        return frame;
    }

    /// <summary>What the worker does with one uplink frame as far as the neighbour table goes.</summary>
    private static DropReason Receive(NeighbourTable table, byte[] frame, TimeSpan now)
    {
        DropReason reason = Decapsulation.Classify(s_tables, s_tables.Overlay!, frame, out Decapsulated d);
        if (d.NeighbourIndex >= 0)
            table.Learn(d.NeighbourIndex, d.LearnedMac, now);
        return reason;
    }

    public static TheoryData<string, byte[], DropReason> Refused()
    {
        byte[] hlen8 = Arp(2, Attacker, Gateway, Vtep);
        hlen8[14 + 4] = 8;
        byte[] notIpv4 = Arp(2, Attacker, Gateway, Vtep);
        BinaryPrimitives.WriteUInt16BigEndian(notIpv4.AsSpan(14 + 2), 0x86DD);
        return new TheoryData<string, byte[], DropReason>
        {
            { "opcode 3 (RARP request) naming the gateway", Arp(3, Attacker, Gateway, Vtep), DropReason.UplinkNotTunnel },
            { "opcode 4 (RARP reply) naming the gateway", Arp(4, Attacker, Gateway, Vtep), DropReason.UplinkNotTunnel },
            { "opcode 9 (InARP reply) naming the gateway", Arp(9, Attacker, Gateway, Vtep), DropReason.UplinkNotTunnel },
            { "opcode 0 naming the gateway", Arp(0, Attacker, Gateway, Vtep), DropReason.UplinkNotTunnel },
            { "reply naming the gateway, cut short", Arp(2, Attacker, Gateway, Vtep)[..40], DropReason.MalformedArp },
            { "reply naming the gateway, hlen 8", hlen8, DropReason.MalformedArp },
            { "reply naming the gateway, protocol not IPv4", notIpv4, DropReason.MalformedArp },
            { "reply naming the gateway, to another address", Arp(2, Attacker, Gateway, "192.168.50.77"), DropReason.UplinkNotTunnel },
            { "gratuitous ARP of the gateway", Arp(1, Attacker, Gateway, Gateway), DropReason.UplinkNotTunnel },
            { "reply naming the gateway at the broadcast MAC", Arp(2, "ff:ff:ff:ff:ff:ff", Gateway, Vtep), DropReason.UplinkNotTunnel },
            { "request naming the gateway at a multicast MAC", Arp(1, "01:00:5e:00:00:01", Gateway, Vtep), DropReason.UplinkNotTunnel },
            { "request naming the gateway at MAC zero", Arp(1, "00:00:00:00:00:00", Gateway, Vtep), DropReason.UplinkNotTunnel },
            { "request claiming our own VTEP address (a conflict)", Arp(1, Attacker, Vtep, Vtep), DropReason.UplinkNotTunnel },
            { "reply from an address we never asked", Arp(2, Attacker, "192.168.50.77", Vtep), DropReason.UplinkNotTunnel },
        };
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public void Refused_arp_leaves_the_neighbour_table_unchanged(string what, byte[] frame, DropReason expected)
    {
        var table = new NeighbourTable(Spec.Overlay!, TimeSpan.Zero);
        Assert.Equal(DropReason.None, Receive(table, Arp(2, GatewayMac, Gateway, Vtep), TimeSpan.Zero));
        ulong[] before = [.. table.Macs];
        IReadOnlyList<NeighbourEntry> entries = table.Entries(TimeSpan.FromSeconds(1));

        DropReason reason = Receive(table, frame, TimeSpan.FromSeconds(1));
        Assert.True(reason == expected, $"{what}: {reason}, expected {expected}");
        Assert.Equal(before, table.Macs);
        Assert.Equal(entries, table.Entries(TimeSpan.FromSeconds(1))); // not even renewed
    }

    [Fact]
    public void A_request_from_a_next_hop_is_answered_and_learned()
    {
        var table = new NeighbourTable(Spec.Overlay!, TimeSpan.Zero);
        byte[] request = Arp(1, GatewayMac, Gateway, Vtep);
        Assert.Equal(DropReason.None, Receive(table, request, TimeSpan.Zero));
        Assert.Equal(TestTopology.Mac(GatewayMac), table.Macs[GatewayIndex]);
        Assert.Equal(TestTopology.Mac(GatewayMac), MacAddress.Read(request)); // the reply goes back to it
    }

    [Fact]
    public void An_arp_probe_for_our_VTEP_is_answered_and_teaches_nothing()
    {
        // RFC 5227 section 2.1.1: sender 0.0.0.0; our reply tells the prober the address is taken.
        byte[] probe = Arp(1, Attacker, "0.0.0.0", Vtep);
        Assert.Equal(DropReason.None, Decapsulation.Classify(s_tables, s_tables.Overlay!, probe, out Decapsulated d));
        Assert.Equal(UplinkAction.VtepArpReply, d.Action);
        Assert.Equal(-1, d.NeighbourIndex);
        Assert.Equal(TestTopology.Mac(Attacker), MacAddress.Read(probe));
    }
}
