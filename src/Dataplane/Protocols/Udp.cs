// UDP header (RFC 768).
namespace VSwitch.Dataplane.Protocols;

public static class Udp
{
    public const int HeaderLength = 8;
    public const int SourcePortOffset = 0;
    public const int DestinationPortOffset = 2;
    public const int LengthOffset = 4;
    public const int ChecksumOffset = 6;

    /// <summary>Ethernet + IPv4 without options + UDP: the outer headers of a UDP tunnel (VXLAN, GENEVE) before its own header.</summary>
    public const int TunnelOuterLength = Ethernet.HeaderLength + Ipv4.MinHeaderLength + HeaderLength;
}
