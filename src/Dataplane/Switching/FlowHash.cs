// Picks a VM queue for a frame so that one flow always lands on one queue (what virtio-net's
// multiqueue and RSS expect). Computed only when the egress port has more than one queue.
using System.Buffers.Binary;
using VSwitch.Dataplane.Protocols;

namespace VSwitch.Dataplane.Switching;

public static class FlowHash
{
    /// <summary>Hash of the IPv4 5-tuple (addresses only for fragments and non-TCP/UDP), else of the MAC pair.</summary>
    public static uint Compute(ReadOnlySpan<byte> frame)
    {
        ulong h;
        if (frame.Length >= Ethernet.HeaderLength + Ipv4.MinHeaderLength
            && BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(Ethernet.EtherTypeOffset)) == Ethernet.TypeIpv4)
        {
            ReadOnlySpan<byte> ip = frame.Slice(Ethernet.HeaderLength);
            h = BinaryPrimitives.ReadUInt64BigEndian(ip.Slice(Ipv4.SourceOffset)) ^ ip[Ipv4.ProtocolOffset];
            int headerLength = (ip[0] & 0xF) * 4;
            bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(Ipv4.FlagsFragmentOffset)) & 0x3FFF) != 0;
            if (!fragment && ip[Ipv4.ProtocolOffset] is Ipv4.ProtocolTcp or Ipv4.ProtocolUdp && ip.Length >= headerLength + 4)
                h ^= (ulong)BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(headerLength)) << 17;
        }
        else
        {
            h = BinaryPrimitives.ReadUInt64BigEndian(frame) ^ (ulong)BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(8)) << 13;
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
