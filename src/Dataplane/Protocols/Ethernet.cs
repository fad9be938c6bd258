// Ethernet II framing (IEEE 802.3 clause 3, EtherType values from the IEEE registry).
namespace VSwitch.Dataplane.Protocols;

public static class Ethernet
{
    public const int HeaderLength = 14;
    public const int DestinationOffset = 0;
    public const int SourceOffset = 6;
    public const int EtherTypeOffset = 12;

    public const ushort TypeIpv4 = 0x0800;
    public const ushort TypeArp = 0x0806;
    public const ushort TypeIpv6 = 0x86DD;
    /// <summary>802.1Q C-tag, 802.1ad S-tag, and the pre-standard 0x9100 QinQ tag.</summary>
    public const ushort TypeVlan = 0x8100;
    public const ushort TypeQinQ = 0x88A8;
    public const ushort TypeQinQLegacy = 0x9100;

    public static bool IsVlanTag(ushort etherType) => etherType is TypeVlan or TypeQinQ or TypeQinQLegacy;
}
