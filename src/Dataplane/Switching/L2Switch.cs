// The L2 switching stage for frames from VM ports: anti-spoofing, the ARP responder, and the
// per-tenant MAC lookup. Tables are programmed, never learned, as on a cloud host: a frame can
// only reach ports of its own tenant, because every lookup key carries the tenant.
//
// Checks run in a fixed order, and the first failure is the frame's one drop reason:
//   runt -> oversize (ingress MTU) -> source MAC -> the sender checks of TenantGuard.cs, which
//   decapsulated frames go through too (VLAN tag; L3 header of IPv4, ARP, IPv6: malformed, then
//   spoofed source, then DHCP server replies, Neighbor Advertisements, Router Advertisements,
//   Redirects) -> the ARP responder -> destination lookup (local VM, then remote VM of the
//   tenant, whose frames are encapsulated toward its host: Overlay/Encapsulation.cs; broadcast
//   and multicast flood to the tenant's local ports and remote hosts, unknown unicast to its
//   local ports only).
// Other EtherTypes are switched like any frame once the source MAC has been checked.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Dataplane.Switching;

public enum ForwardAction : byte
{
    /// <summary>To Forwarding.Egress.</summary>
    Unicast,
    /// <summary>Broadcast and multicast: to every other VM port of the ingress port's tenant, and to its remote hosts.</summary>
    Flood,
    /// <summary>Rewritten in place (an ARP reply); back out of the ingress port.</summary>
    ReplyToSender,
    /// <summary>To a remote VM: encapsulated toward Forwarding.Endpoint and sent on the uplink.</summary>
    Encapsulate,
    /// <summary>
    /// Unknown unicast: to every other VM port of the tenant on this host only. Every remote VM's
    /// MAC is programmed, so a remote host could only drop the frame; replicating it would let one
    /// VM multiply its traffic by the number of hosts.
    /// </summary>
    FloodLocal,
}

public struct Forwarding
{
    public ForwardAction Action;
    public PortBinding? Egress;
    public TunnelEndpoint? Endpoint;
}

public static class L2Switch
{
    /// <summary>
    /// Decides what happens to one frame received on a bound VM port. Returns DropReason.None and
    /// fills <paramref name="forwarding"/> when the frame goes somewhere; may rewrite the frame
    /// in place (the ARP responder). Allocates nothing and never throws on frame contents.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Classify(SwitchTables tables, PortBinding ingress, Span<byte> frame, out Forwarding forwarding)
    {
        forwarding = default;
        if (frame.Length < Ethernet.HeaderLength)
            return DropReason.RuntFrame;
        if (frame.Length > ingress.MaxFrameLength)
            return DropReason.Oversize;
        // Of constant length: the JIT drops the bounds checks of the fixed-offset reads from it.
        ReadOnlySpan<byte> ethernet = frame.Slice(0, Ethernet.HeaderLength);
        if (MacAddress.Read(ethernet.Slice(Ethernet.SourceOffset, 6)) != ingress.Mac)
            return DropReason.SpoofedSourceMac;

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(ethernet.Slice(Ethernet.EtherTypeOffset));
        Span<byte> payload = frame.Slice(Ethernet.HeaderLength);
        DropReason sender = TenantGuard.CheckSender(new LocalSender(ingress), etherType, payload);
        if (sender != DropReason.None)
            return sender;
        if (etherType == Ethernet.TypeArp && AnswerArp(tables, ingress, frame, payload, ref forwarding))
            return DropReason.None;

        ulong destination = MacAddress.Read(ethernet);
        if (MacAddress.IsGroup(destination))
        {
            forwarding.Action = ForwardAction.Flood;
            return DropReason.None;
        }
        ulong key = SwitchTables.MacKey(ingress.TenantIndex, destination);
        if (!tables.MacTable.TryGetValue(key, out PortBinding? egress))
        {
            if (tables.Overlay is { } overlay && overlay.RemoteMacs.TryGetValue(key, out RemoteVm? remote))
            {
                forwarding.Action = ForwardAction.Encapsulate;
                forwarding.Endpoint = remote.Endpoint;
                return DropReason.None;
            }
            forwarding.Action = ForwardAction.FloodLocal;
            return DropReason.None;
        }
        if (ReferenceEquals(egress, ingress))
            return DropReason.Hairpin;
        if (frame.Length > egress.MaxFrameLength)
            return DropReason.EgressMtuExceeded;
        forwarding.Action = ForwardAction.Unicast;
        forwarding.Egress = egress;
        return DropReason.None;
    }

    /// <summary>
    /// The ARP responder, for a request TenantGuard has checked: one for an address the tenant
    /// owns is answered here with the owner's MAC, so ARP never has to be broadcast to the
    /// tenant's VMs. Gratuitous ARP (sender address = target address) is switched, not answered.
    /// </summary>
    private static bool AnswerArp(SwitchTables tables, PortBinding ingress, Span<byte> frame, ReadOnlySpan<byte> arp, ref Forwarding forwarding)
    {
        uint senderIp = BinaryPrimitives.ReadUInt32BigEndian(arp.Slice(Arp.SenderIpOffset));
        uint targetIp = BinaryPrimitives.ReadUInt32BigEndian(arp.Slice(Arp.TargetIpOffset));
        if (BinaryPrimitives.ReadUInt16BigEndian(arp.Slice(Arp.OperOffset)) != Arp.OpRequest
            || targetIp == senderIp
            || !tables.ArpTable.TryGetValue(SwitchTables.ArpKey(ingress.TenantIndex, targetIp), out ulong targetMac))
            return false;

        Arp.RewriteAsReply(frame, targetMac, targetIp);
        forwarding.Action = ForwardAction.ReplyToSender;
        forwarding.Egress = ingress;
        return true;
    }
}
