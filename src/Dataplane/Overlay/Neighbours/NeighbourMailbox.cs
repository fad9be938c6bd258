// What a worker and the neighbour resolver (the control side's timer thread) exchange: ARP
// requests the resolver wants sent on the uplink, and MACs the worker saw in ARP from a next hop.
// One mailbox per worker; both directions are single-producer single-consumer rings, so neither
// side locks and the worker never allocates.
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Collections;

namespace VSwitch.Dataplane.Overlay.Neighbours;

/// <summary>An ARP request ready for the wire: 42 bytes padded to the 60-byte Ethernet minimum.</summary>
[InlineArray(Length)]
public struct ArpFrame
{
    public const int Length = 60;
    private byte _first;
}

public readonly record struct LearnedNeighbour(int Index, ulong Mac);

public sealed class NeighbourMailbox
{
    /// <summary>Requests queue up only when a worker stalls; 16 covers a retry round for 16 next hops.</summary>
    public SpscRing<ArpFrame> Outbound { get; } = new(16);
    /// <summary>A burst holds at most 32 ARP frames; 64 absorbs two before the resolver drains them.</summary>
    public SpscRing<LearnedNeighbour> Learned { get; } = new(64);
}
