// Picks a VM queue for a frame so that one flow always lands on one queue (what virtio-net's
// multiqueue and RSS expect). Computed only when the egress port has more than one queue.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Protocols;

namespace VSwitch.Dataplane.Switching;

public static class FlowHash
{
    /// <summary>Hash of the IPv4 5-tuple (addresses only for fragments and non-TCP/UDP), else of the MAC pair.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Compute(ReadOnlySpan<byte> frame)
    {
        ulong h;
        if (frame.Length >= Ethernet.HeaderLength + Ipv4.MinHeaderLength
            && BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(Ethernet.EtherTypeOffset)) == Ethernet.TypeIpv4)
        {
            ReadOnlySpan<byte> ip = frame.Slice(Ethernet.HeaderLength);
            // Of constant length: the fixed-offset reads below need no bounds checks.
            ReadOnlySpan<byte> header = ip.Slice(0, Ipv4.MinHeaderLength);
            byte protocol = header[Ipv4.ProtocolOffset];
            h = BinaryPrimitives.ReadUInt64BigEndian(header.Slice(Ipv4.SourceOffset)) ^ protocol;
            int headerLength = (header[0] & 0xF) * 4;
            bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(header.Slice(Ipv4.FlagsFragmentOffset)) & Ipv4.FragmentMask) != 0;
            if (!fragment && protocol is Ipv4.ProtocolTcp or Ipv4.ProtocolUdp && ip.Length >= headerLength + 4)
                h ^= (ulong)BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(headerLength, 4)) << 17;
        }
        else
        {
            ReadOnlySpan<byte> macs = frame.Slice(0, 12);
            h = BinaryPrimitives.ReadUInt64BigEndian(macs) ^ (ulong)BinaryPrimitives.ReadUInt32BigEndian(macs.Slice(8)) << 13;
        }
        // MurmurHash3's fmix64 finaliser: every input bit reaches the low bits that pick the queue.
        h ^= h >> 33;
        h *= 0xFF51_AFD7_ED55_8CCDUL;
        h ^= h >> 33;
        h *= 0xC4CE_B9FE_1A85_EC53UL;
        h ^= h >> 33;
        return (uint)h;
    }
}
