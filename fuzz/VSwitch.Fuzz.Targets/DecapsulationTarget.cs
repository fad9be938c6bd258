// Decapsulation.Classify as PollWorker.Decapsulate calls it: one frame from the uplink, in a
// buffer it may rewrite (the VTEP's ARP reply). The input is the whole frame.
using VSwitch.Dataplane.Overlay;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Fuzz.Targets;

public static class DecapsulationTarget
{
    [ThreadStatic] private static byte[]? t_frame;

    public static void Run(ReadOnlySpan<byte> input)
    {
        byte[] buffer = t_frame ??= new byte[ushort.MaxValue];
        Span<byte> frame = buffer.AsSpan(0, Math.Min(input.Length, buffer.Length));
        input.Slice(0, frame.Length).CopyTo(frame);

        DropReason reason = Decapsulation.Classify(Topology.Tables, Topology.Overlay, frame, out Decapsulated result);
        Check(Topology.Overlay, frame.Length, reason, result);
    }

    /// <summary>The outcome is one the worker can act on; a delivered inner frame lies inside the frame and stays in the tunnel's tenant.</summary>
    public static void Check(OverlayTables overlay, int frameLength, DropReason reason, in Decapsulated result)
    {
        Invariants.CountableReason(reason);
        if (reason != DropReason.None)
            return;
        switch (result.Action)
        {
            case UplinkAction.Deliver or UplinkAction.Flood:
                Invariants.Check(result.Tunnel is { } tunnel && overlay.FloodEndpoints[tunnel.TenantIndex].Contains(tunnel),
                    "decapsulated without a tunnel of ours");
                Invariants.Check(result.InnerOffset > 0 && result.InnerLength >= 14 && result.InnerOffset + result.InnerLength <= frameLength,
                    $"inner frame [{result.InnerOffset}, +{result.InnerLength}) is not inside the {frameLength}-byte frame");
                if (result.Action == UplinkAction.Deliver)
                    Invariants.Check(result.Egress is { IsBoundVm: true } egress && egress.TenantIndex == result.TenantIndex,
                        $"delivered from tenant {result.TenantIndex} to {result.Egress?.Name ?? "no port"}");
                else
                    Invariants.Check(result.Egress is null, "a flood that names one egress");
                break;
            case UplinkAction.VtepArpReply:
                break;
            case UplinkAction.NeighbourLearned:
                Invariants.Check(result.NeighbourIndex >= 0 && result.NeighbourIndex < overlay.NeighbourMacs.Length,
                    $"learned neighbour {result.NeighbourIndex}, not one of our next hops");
                break;
            default:
                throw new FuzzInvariantException($"uplink action {(int)result.Action} is outside UplinkAction");
        }
    }
}
