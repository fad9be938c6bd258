// ARP on the underlay, as the uplink's host sees it: the one way a next hop's MAC gets into the
// neighbour table, so the one place an underlay host could poison it. The rule: a MAC is learned
// only from a frame that passes every check below and is then consumed as ours (answered or
// taken as a reply); a frame refused by any of them changes nothing, whatever its fields say.
//
// In order, each refusal counted under the reason named:
//   1. not Ethernet/IPv4 ARP or shorter than its hlen/plen claim (RFC 826's ar$hrd, ar$pro,
//      ar$hln, ar$pln)                                                        -> malformed_arp
//   2. an opcode other than request (1) or reply (2): RFC 826 defines only these two; RARP
//      (RFC 903, 3/4) and InARP (RFC 2390, 8/9) are not ours                  -> uplink_not_tunnel
//   3. the target protocol address is not our VTEP ("Am I the target protocol address?",
//      RFC 826). This also leaves out the gratuitous ARP a neighbour announces itself with
//      (RFC 5227 section 3: target = its own address): we deliberately skip RFC 826's merge of
//      entries from ARP not aimed at us, which on a promiscuous uplink would let any frame on
//      the segment move a next hop; a resolved entry renews through our own requests instead
//                                                                             -> uplink_not_tunnel
//   4. the sender protocol address is our VTEP: another host claims our address (RFC 5227
//      section 2.4, a conflict); neither answered nor learned                 -> uplink_not_tunnel
//   5. the sender hardware address is zero or a group address: no host has it, and a reply to it
//      would go to every host on the segment                                  -> uplink_not_tunnel
//   6. a reply whose sender protocol address is none of our next hops: we asked no such thing
//                                                                             -> uplink_not_tunnel
// Then a request is answered (an ARP probe from 0.0.0.0, RFC 5227 section 2.1.1, too: our reply
// is how the prober learns the address is taken), and the sender of a request or reply is learned
// when it is one of our next hops: the merge of RFC 826's packet reception, limited to ARP that
// asked us or answered us. The Ethernet source is not compared with the sender hardware address:
// proxies and VRRP routers may differ in them legitimately, and a forger sets both anyway.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Dataplane.Overlay.Neighbours;

public static class UnderlayArp
{
    /// <summary>
    /// Classifies one ARP frame from the uplink by the rule above. An answered request is rewritten
    /// in place into the reply. Sets result.NeighbourIndex and LearnedMac only when the frame is
    /// accepted (DropReason.None). Out of line: ARP is rare next to tunnel traffic.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static DropReason Classify(OverlayTables overlay, Span<byte> frame, ref Decapsulated result)
    {
        Span<byte> arp = frame.Slice(Ethernet.HeaderLength);
        if (!Arp.IsWellFormed(arp))
            return DropReason.MalformedArp;
        ushort operation = BinaryPrimitives.ReadUInt16BigEndian(arp.Slice(Arp.OperOffset));
        if (operation is not (Arp.OpRequest or Arp.OpReply))
            return DropReason.UplinkNotTunnel;
        if (BinaryPrimitives.ReadUInt32BigEndian(arp.Slice(Arp.TargetIpOffset)) != overlay.Vtep)
            return DropReason.UplinkNotTunnel;
        uint senderIp = BinaryPrimitives.ReadUInt32BigEndian(arp.Slice(Arp.SenderIpOffset));
        ulong senderMac = MacAddress.Read(arp.Slice(Arp.SenderMacOffset, 6));
        if (senderIp == overlay.Vtep || senderMac == 0 || MacAddress.IsGroup(senderMac))
            return DropReason.UplinkNotTunnel;
        bool nextHop = overlay.NeighbourByIp.TryGetValue(OverlayTables.HostKey(senderIp), out int neighbour);
        if (operation == Arp.OpReply)
        {
            if (!nextHop)
                return DropReason.UplinkNotTunnel;
            result.Action = UplinkAction.NeighbourLearned;
        }
        else
        {
            Arp.RewriteAsReply(frame, overlay.Mac, overlay.Vtep);
            result.Action = UplinkAction.VtepArpReply;
        }
        if (nextHop)
        {
            result.NeighbourIndex = neighbour;
            result.LearnedMac = senderMac;
        }
        return DropReason.None;
    }
}
