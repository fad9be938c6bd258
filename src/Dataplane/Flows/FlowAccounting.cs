// What a worker loop does for flows, per frame: it observes the frame before switching it
// (encapsulation and the ARP responder rewrite frames in place, so the key is read first), and
// counts it once its fate is known, with the drop reason if it was dropped. The loops take the
// accounting as a struct type parameter (PollWorker.SwitchBurst<TFlows>), so a worker with flow
// accounting off runs loops compiled without a trace of it, and one with it on runs them with
// the table's calls inlined.
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Counters;

namespace VSwitch.Dataplane.Flows;

internal interface IFlowAccounting
{
    /// <summary>The next frame to count: <paramref name="frame"/> of tenant <paramref name="tenant"/> (-1: none), through VNI <paramref name="vni"/> (0: local).</summary>
    void Observe(int tenant, uint vni, ReadOnlySpan<byte> frame);

    /// <summary>Counts the frame last observed, dropped for <paramref name="reason"/> unless None.</summary>
    void Count(DropReason reason);
}

/// <summary>Flow accounting off (flows.enabled: false): nothing, compiled away.</summary>
internal struct NoFlowAccounting : IFlowAccounting
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Observe(int tenant, uint vni, ReadOnlySpan<byte> frame)
    {
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Count(DropReason reason)
    {
    }
}

/// <summary>Flow accounting into a worker's table, every frame of one burst stamped with the burst's time.</summary>
internal struct FlowTableAccounting(FlowTable table, long now) : IFlowAccounting
{
    private FlowKey _key;
    private int _bytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Observe(int tenant, uint vni, ReadOnlySpan<byte> frame)
    {
        _key = FlowKey.FromFrame(tenant, vni, frame);
        _bytes = frame.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Count(DropReason reason) => table.Record(_key, _bytes, now, reason);
}
