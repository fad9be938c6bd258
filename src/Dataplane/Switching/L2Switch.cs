// The L2 switching stage for frames from VM ports: anti-spoofing, the ARP responder, and the
// per-tenant MAC lookup. Tables are programmed, never learned, as on a cloud host: a frame can
// only reach ports of its own tenant, because every lookup key carries the tenant.
//
// Checks run in a fixed order, and the first failure is the frame's one drop reason:
//   runt -> oversize (ingress MTU) -> source MAC -> VLAN tag -> L3 header (IPv4, ARP, IPv6:
//   malformed, then spoofed source, then the first-hop checks of TenantGuard.cs: DHCP server
//   replies, Neighbor Advertisements, Router Advertisements, Redirects) -> destination lookup (local VM, then remote VM of the
//   tenant, whose frames are encapsulated toward its host: Overlay/Encapsulation.cs; broadcast
//   and multicast flood to the tenant's local ports and remote hosts, unknown unicast to its
//   local ports only).
// Other EtherTypes are switched like any frame once the source MAC has been checked.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Overlay;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Counters;

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
        switch (etherType)
        {
            case Ethernet.TypeIpv4:
                int ipv4Header = Ipv4.ValidHeaderLength(payload, out int ipv4Length);
                if (ipv4Header == 0)
                    return DropReason.MalformedIpv4;
                // Of constant length, as the Ethernet header: its fixed-offset reads need no bounds checks.
                ReadOnlySpan<byte> ipv4Fixed = payload.Slice(0, Ipv4.MinHeaderLength);
                if (!ingress.HasIpv4(BinaryPrimitives.ReadUInt32BigEndian(ipv4Fixed.Slice(Ipv4.SourceOffset, 4))))
                    return DropReason.SpoofedIpv4Source;
                DropReason ipv4 = TenantGuard.CheckIpv4(ipv4Fixed, payload, ipv4Header, ipv4Length);
                if (ipv4 != DropReason.None)
                    return ipv4;
                break;
            case Ethernet.TypeArp:
                DropReason arp = CheckArp(tables, ingress, frame, payload, ref forwarding);
                if (arp != DropReason.None || forwarding.Action == ForwardAction.ReplyToSender)
                    return arp;
                break;
            case Ethernet.TypeIpv6:
                DropReason ipv6 = CheckIpv6(ingress, payload);
                if (ipv6 != DropReason.None)
                    return ipv6;
                break;
            case Ethernet.TypeVlan or Ethernet.TypeQinQ or Ethernet.TypeQinQLegacy:
                return DropReason.VlanTagged;
        }

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
    /// The IPv6 checks: header, source bound to the port (or the VM's link-local address), then
    /// the first-hop checks. One call out of line: IPv4 is the common case, and every call site
    /// in Classify costs its hot path registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason CheckIpv6(PortBinding ingress, ReadOnlySpan<byte> packet)
    {
        if (!Ipv6.IsValidHeader(packet))
            return DropReason.MalformedIpv6;
        if (!ingress.HasIpv6(Ipv6.ReadAddress(packet.Slice(Ipv6.SourceOffset, 16))))
            return DropReason.SpoofedIpv6Source;
        return TenantGuard.CheckIpv6(packet, ingress.Mac, ingress.AllowRouting, ingress);
    }

    /// <summary>
    /// RFC 826 checks, and the responder: a request for an address the tenant owns is answered
    /// here with the owner's MAC, so ARP never has to be broadcast to the tenant's VMs.
    /// Gratuitous ARP (sender address = target address) is switched, not answered.
    /// </summary>
    private static DropReason CheckArp(SwitchTables tables, PortBinding ingress, Span<byte> frame, Span<byte> arp, ref Forwarding forwarding)
    {
        if (!Arp.IsWellFormed(arp))
            return DropReason.MalformedArp;
        ulong senderMac = MacAddress.Read(arp.Slice(Arp.SenderMacOffset, 6));
        uint senderIp = BinaryPrimitives.ReadUInt32BigEndian(arp.Slice(Arp.SenderIpOffset));
        if (senderMac != ingress.Mac || !ingress.HasIpv4(senderIp))
            return DropReason.SpoofedArpSender;

        uint targetIp = BinaryPrimitives.ReadUInt32BigEndian(arp.Slice(Arp.TargetIpOffset));
        if (BinaryPrimitives.ReadUInt16BigEndian(arp.Slice(Arp.OperOffset)) != Arp.OpRequest
            || targetIp == senderIp
            || !tables.ArpTable.TryGetValue(SwitchTables.ArpKey(ingress.TenantIndex, targetIp), out ulong targetMac))
            return DropReason.None;

        Arp.RewriteAsReply(frame, targetMac, targetIp);
        forwarding.Action = ForwardAction.ReplyToSender;
        forwarding.Egress = ingress;
        return DropReason.None;
    }
}
