// L2Switch.Classify as PollWorker.Switch calls it: one frame from a bound VM port, in a buffer
// the switch may rewrite (the ARP responder). Input: byte 0 picks the ingress port among
// Topology.VmPorts, the rest is the frame.
using VSwitch.Dataplane.Switching;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Fuzz.Targets;

public static class SwitchTarget
{
    [ThreadStatic] private static byte[]? t_frame;

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        PortBinding ingress = Topology.VmPorts[input[0] % Topology.VmPorts.Length];
        ReadOnlySpan<byte> bytes = input.Slice(1);
        // An mbuf holds at most its data room; longer inputs are cut as the NIC would never deliver them.
        byte[] buffer = t_frame ??= new byte[ushort.MaxValue];
        Span<byte> frame = buffer.AsSpan(0, Math.Min(bytes.Length, buffer.Length));
        bytes.Slice(0, frame.Length).CopyTo(frame);

        DropReason reason = L2Switch.Classify(Topology.Tables, ingress, frame, out Forwarding forwarding);
        Check(Topology.Tables, ingress, reason, forwarding);
    }

    /// <summary>The outcome is one the worker can act on, and never reaches another tenant.</summary>
    public static void Check(SwitchTables tables, PortBinding ingress, DropReason reason, Forwarding forwarding)
    {
        Invariants.CountableReason(reason);
        if (reason != DropReason.None)
            return;
        switch (forwarding.Action)
        {
            case ForwardAction.Unicast:
                Invariants.Check(forwarding.Egress is { IsBoundVm: true } egress && egress.TenantIndex == ingress.TenantIndex && !ReferenceEquals(egress, ingress),
                    $"unicast from {ingress.Name} to {forwarding.Egress?.Name ?? "no port"}, not another VM port of its tenant");
                break;
            case ForwardAction.ReplyToSender:
                Invariants.Check(ReferenceEquals(forwarding.Egress, ingress), $"ARP reply to {ingress.Name} sent to {forwarding.Egress?.Name ?? "no port"}");
                break;
            case ForwardAction.Encapsulate:
                Invariants.Check(forwarding.Endpoint is { } endpoint && endpoint.TenantIndex == ingress.TenantIndex
                        && tables.Overlay is { } overlay && overlay.FloodEndpoints[ingress.TenantIndex].Contains(endpoint),
                    $"encapsulated from {ingress.Name} toward a tunnel that is not its tenant's");
                break;
            case ForwardAction.Flood:
            case ForwardAction.FloodLocal:
                Invariants.Check(forwarding.Egress is null && forwarding.Endpoint is null, "a flood that names one egress");
                break;
            default:
                throw new FuzzInvariantException($"forward action {(int)forwarding.Action} is outside ForwardAction");
        }
    }
}
