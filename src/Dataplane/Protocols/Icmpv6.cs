// ICMPv6 (RFC 4443) and the Neighbor Discovery messages a tenant's VMs may or may not send (RFC 4861).
using System.Buffers.Binary;

namespace VSwitch.Dataplane.Protocols;

public static class Icmpv6
{
    /// <summary>Type, Code, Checksum (RFC 4443 section 2.1).</summary>
    public const int HeaderLength = 4;

    // RFC 4861 section 4.
    public const byte RouterSolicitation = 133;
    public const byte RouterAdvertisement = 134;
    public const byte NeighborSolicitation = 135;
    public const byte NeighborAdvertisement = 136;
    public const byte Redirect = 137;

    /// <summary>Neighbor Advertisement (RFC 4861 section 4.4): header, flags and reserved, the 16-octet Target Address; options follow.</summary>
    public const int NeighborAdvertisementLength = 24;
    public const int TargetAddressOffset = 8;

    /// <summary>RFC 4861 section 4.6.1: the Target Link-Layer Address option; on Ethernet 8 octets, the MAC at octet 2.</summary>
    public const byte TargetLinkLayerAddressOption = 2;
    public const int OptionUnit = 8;
    public const int OptionAddressOffset = 2;

    /// <summary>
    /// Reads a Neighbor Advertisement (<paramref name="message"/>: the ICMPv6 message, no longer
    /// than the packet holds): its Target Address, and whether every Target Link-Layer Address
    /// option names <paramref name="linkLayer"/>. False when the message or an option is
    /// malformed: shorter than section 4.4's fixed part, or an option of length 0 or running past
    /// the end (section 4.6: nodes discard such a packet).
    /// </summary>
    public static bool TryReadNeighborAdvertisement(ReadOnlySpan<byte> message, ulong linkLayer, out UInt128 target, out bool namesLinkLayer)
    {
        target = 0;
        namesLinkLayer = true;
        if (message.Length < NeighborAdvertisementLength)
            return false;
        target = Ipv6.ReadAddress(message.Slice(TargetAddressOffset, 16));
        ReadOnlySpan<byte> options = message.Slice(NeighborAdvertisementLength);
        while (!options.IsEmpty)
        {
            int length = options.Length < 2 ? 0 : options[1] * OptionUnit;
            if (length == 0 || length > options.Length)
                return false;
            if (options[0] == TargetLinkLayerAddressOption
                && (length < OptionAddressOffset + 6 || MacAddress.Read(options.Slice(OptionAddressOffset, 6)) != linkLayer))
                namesLinkLayer = false;
            options = options.Slice(length);
        }
        return true;
    }
}
