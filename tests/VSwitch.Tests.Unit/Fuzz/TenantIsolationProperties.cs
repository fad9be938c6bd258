// Property tests (CsCheck): random frames, from VM ports and through tunnels from both remote
// VTEPs, against the fuzz targets' host (two tenants binding the same MACs and IPs). Headers are
// valid-ish: mostly well-formed, with random lengths, versions, opcodes and addresses mixed in,
// and MACs and IPs drawn from both tenants' bindings as often as at random. Whatever the frame,
// the switch's decision never reaches a port or tunnel of another tenant, and every frame in
// leaves with exactly one counted outcome: delivered, or dropped under a DropReason.
using System.Buffers.Binary;
using CsCheck;
using VSwitch.Dataplane.Overlay;
using VSwitch.Dataplane.Switching;
using VSwitch.Fuzz.Targets;
using VSwitch.Tests.Unit.Overlay;
using Xunit;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Fuzz;

public class TenantIsolationProperties
{
    private const long Iterations = 20_000;

    private static readonly SwitchTables s_tables = Topology.Tables;

    private static readonly Gen<ulong> s_mac = Gen.Frequency(
        (4, Gen.OneOfConst(Topology.BoundMacs)),
        (1, Gen.ULong.Select(m => m & 0xFFFF_FFFF_FFFF)),
        (1, Gen.OneOfConst(0xFFFF_FFFF_FFFFUL, 0x3333_0000_0001UL, 0x0100_5E00_0001UL)));

    private static readonly Gen<uint> s_ipv4 = Gen.Frequency((4, Gen.OneOfConst(Topology.BoundIpv4)), (1, Gen.UInt));

    private static readonly Gen<byte[]> s_ipv4Packet =
        Gen.Select(Gen.Frequency((6, Gen.Const((byte)0x45)), (1, Gen.Byte)), s_ipv4, s_ipv4, Gen.Byte.Array[0, 64], Gen.Frequency((4, Gen.Const(-1)), (1, Gen.Int[0, 200])),
            (versionIhl, source, destination, payload, totalLength) =>
            {
                var ip = new byte[20 + payload.Length];
                ip[0] = versionIhl;
                BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)(totalLength < 0 ? ip.Length : totalLength));
                ip[8] = 64;
                ip[9] = 17;
                BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(12), source);
                BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(16), destination);
                payload.CopyTo(ip, 20);
                return ip;
            });

    private static readonly Gen<byte[]> s_arpPacket =
        Gen.Select(Gen.Frequency((6, Gen.Const((ushort)1)), (1, Gen.UShort[0, 4])), s_mac, s_ipv4, s_ipv4, Gen.Frequency((6, Gen.Const(28)), (1, Gen.Int[0, 40])),
            (op, senderMac, senderIp, targetIp, length) =>
            {
                var arp = new byte[28];
                BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
                BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(2), 0x0800);
                arp[4] = 6;
                arp[5] = 4;
                BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(6), op);
                WriteMac(arp.AsSpan(8), senderMac);
                BinaryPrimitives.WriteUInt32BigEndian(arp.AsSpan(14), senderIp);
                BinaryPrimitives.WriteUInt32BigEndian(arp.AsSpan(24), targetIp);
                return arp.AsSpan(0, Math.Min(length, arp.Length)).ToArray();
            });

    private static readonly Gen<UInt128> s_ipv6 = Gen.Frequency(
        (3, Gen.OneOfConst(s_tables.Ports[0]!.Ipv6[0], s_tables.Ports[0]!.LinkLocalIpv6, s_tables.Ports[2]!.LinkLocalIpv6)),
        (1, Gen.Select(Gen.ULong, Gen.ULong, (high, low) => new UInt128(high, low))));

    private static readonly Gen<byte[]> s_ipv6Packet =
        Gen.Select(Gen.Frequency((6, Gen.Const((byte)0x60)), (1, Gen.Byte)), s_ipv6, s_ipv6, Gen.Byte.Array[0, 48], Gen.Frequency((4, Gen.Const(-1)), (1, Gen.Int[0, 100])),
            (version, source, destination, payload, payloadLength) =>
            {
                var ip = new byte[40 + payload.Length];
                ip[0] = version;
                BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)(payloadLength < 0 ? payload.Length : payloadLength));
                ip[6] = 17;
                ip[7] = 64;
                BinaryPrimitives.WriteUInt128BigEndian(ip.AsSpan(8), source);
                BinaryPrimitives.WriteUInt128BigEndian(ip.AsSpan(24), destination);
                payload.CopyTo(ip, 40);
                return ip;
            });

    /// <summary>(EtherType, payload): IPv4, ARP, IPv6, a VLAN tag in front of any of them, or anything.</summary>
    private static readonly Gen<(ushort EtherType, byte[] Payload)> s_l3 = Gen.Frequency(
        (3, s_ipv4Packet.Select(p => ((ushort)0x0800, p))),
        (3, s_arpPacket.Select(p => ((ushort)0x0806, p))),
        (2, s_ipv6Packet.Select(p => ((ushort)0x86DD, p))),
        (1, Gen.Select(Gen.OneOfConst((ushort)0x8100, (ushort)0x88A8, (ushort)0x9100), s_ipv4Packet,
            (tpid, inner) => (tpid, (byte[])[0, 10, 0x08, 0x00, .. inner]))),
        (1, Gen.Select(Gen.UShort, Gen.Byte.Array[0, 64], (type, payload) => (type, payload))));

    /// <summary>An Ethernet frame whose source is mostly a bound MAC (anyone's, not only the sender's).</summary>
    private static readonly Gen<byte[]> s_frame = Gen.Select(s_mac, s_mac, s_l3, (destination, source, l3) =>
    {
        var frame = new byte[14 + l3.Payload.Length];
        WriteMac(frame, destination);
        WriteMac(frame.AsSpan(6), source);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), l3.EtherType);
        l3.Payload.CopyTo(frame, 14);
        return frame;
    });

    [Fact]
    public void Frames_from_VM_ports_stay_in_their_tenant_and_each_gets_one_counted_outcome()
    {
        var outcomes = new Outcomes();
        Gen.Select(Gen.Int[0, Topology.VmPorts.Length - 1], s_frame).Sample((port, frame) =>
        {
            PortBinding ingress = Topology.VmPorts[port];
            DropReason reason = L2Switch.Classify(s_tables, ingress, frame, out Forwarding forwarding);
            SwitchTarget.Check(s_tables, ingress, reason, forwarding);
            if (reason == DropReason.None && forwarding.Action is ForwardAction.Flood or ForwardAction.FloodLocal)
                AssertFloodStaysIn(ingress.TenantIndex);
            outcomes.Count(reason);
        }, iter: Iterations, threads: 1);
        outcomes.AssertEveryFrameCounted(Iterations, DropReason.SpoofedSourceMac, DropReason.SpoofedIpv4Source, DropReason.MalformedArp);
    }

    [Fact]
    public void Frames_through_tunnels_from_both_VTEPs_stay_in_their_tenant_and_each_gets_one_counted_outcome()
    {
        Gen<byte[]> tunnelled = Gen.Select(Gen.Bool, Gen.Frequency((4, Gen.OneOfConst(Topology.RedVni, Topology.BlueVni)), (1, Gen.UInt[0, 0xFF_FFFF])), s_frame,
            (fromHostB, vni, inner) => Tunnelled(fromHostB, vni, inner));
        var outcomes = new Outcomes();
        tunnelled.Sample(frame =>
        {
            DropReason reason = Decapsulation.Classify(s_tables, Topology.Overlay, frame, out Decapsulated result);
            DecapsulationTarget.Check(Topology.Overlay, frame.Length, reason, result);
            if (reason == DropReason.None && result.Action == UplinkAction.Flood)
                AssertFloodStaysIn(result.TenantIndex);
            outcomes.Count(reason);
        }, iter: Iterations, threads: 1);
        outcomes.AssertEveryFrameCounted(Iterations, DropReason.SpoofedInnerSource, DropReason.UnknownVni, DropReason.UnknownInnerDestination);
    }

    /// <summary>A flood goes to the tenant's flood ports and tunnels, as the worker sends it: none may be another tenant's.</summary>
    private static void AssertFloodStaysIn(int tenant)
    {
        Assert.All(s_tables.FloodPorts[tenant], port => Assert.Equal(tenant, port.TenantIndex));
        Assert.All(Topology.Overlay.FloodEndpoints[tenant], endpoint => Assert.Equal(tenant, endpoint.TenantIndex));
    }

    /// <summary>VXLAN from host-b or GENEVE (with the agreed critical option) from host-c, to our VTEP.</summary>
    private static byte[] Tunnelled(bool fromHostB, uint vni, byte[] inner)
    {
        byte[] header = fromHostB
            ? [0x08, 0, 0, 0, (byte)(vni >> 16), (byte)(vni >> 8), (byte)vni, 0]
            : [3, 0, 0x65, 0x58, (byte)(vni >> 16), (byte)(vni >> 8), (byte)vni, 0, 0x01, 0x02, 0x80, 2, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
        int udpLength = 8 + header.Length + inner.Length;
        var frame = new byte[14 + 20 + udpLength];
        WriteMac(frame, 0x02AA_0000_0001);
        WriteMac(frame.AsSpan(6), 0x02BB_0000_0002);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        Span<byte> ip = frame.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(20 + udpLength));
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(6), 0x4000);
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(12), fromHostB ? 0xC0A8_3202u : 0xC0A8_3203u);
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(16), 0xC0A8_3201u);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), OverlayTopology.Rfc1071(ip.Slice(0, 20)));
        Span<byte> udp = ip.Slice(20);
        BinaryPrimitives.WriteUInt16BigEndian(udp, 50000);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(2), (ushort)(fromHostB ? 4789 : 6081));
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(4), (ushort)udpLength);
        header.CopyTo(udp.Slice(8));
        inner.CopyTo(udp.Slice(8 + header.Length));
        return frame;
    }

    private static void WriteMac(Span<byte> destination, ulong mac)
    {
        for (int i = 0; i < 6; i++)
            destination[i] = (byte)(mac >> (40 - 8 * i));
    }

    /// <summary>The worker's tally: one delivered count and one count per drop reason (WorkerCounters.Drops is indexed the same way).</summary>
    private sealed class Outcomes
    {
        private readonly long[] _drops = new long[DropReasons.Count];
        private long _delivered;

        public void Count(DropReason reason)
        {
            if (reason == DropReason.None)
                _delivered++;
            else
                _drops[(int)reason]++;
        }

        /// <summary>Delivered plus dropped is every frame in; the generators reach delivery and the given drops, or they prove nothing.</summary>
        public void AssertEveryFrameCounted(long framesIn, params DropReason[] reached)
        {
            Assert.Equal(framesIn, _delivered + _drops.Sum());
            Assert.True(_delivered > framesIn / 100, $"only {_delivered} of {framesIn} frames delivered: the generators miss the bindings");
            Assert.All(reached, reason => Assert.True(_drops[(int)reason] > 0, $"no frame dropped as {DropReasons.Label(reason)}"));
        }
    }
}
