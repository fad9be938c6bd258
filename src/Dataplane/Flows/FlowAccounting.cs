// What a worker loop does for flows, per frame: it observes the frame before switching it
// (encapsulation and the ARP responder rewrite frames in place, so the key is read first), and
// counts it once its fate is known, with the drop reason if it was dropped. The loops take the
// accounting as a struct type parameter (PollWorker.SwitchBurst<TFlows>), so a worker with flow
// accounting off runs loops compiled without a trace of it, and one with it on runs them with
// the per-frame part inlined (the sampled frames' work stays out of line).
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Counters;

namespace VSwitch.Dataplane.Flows;

internal interface IFlowAccounting
{
    /// <summary>
    /// False for NoFlowAccounting: a loop calls Observe only under <c>if (TFlows.Enabled)</c>, a
    /// constant in each compiled instance, so with accounting off not even Observe's arguments
    /// (a frame's span, a slice of it: loads and bounds checks) are computed.
    /// </summary>
    static abstract bool Enabled { get; }

    /// <summary>The next frame to count: <paramref name="frame"/> of tenant <paramref name="tenant"/> (-1: none), through VNI <paramref name="vni"/> (0: local).</summary>
    void Observe(int tenant, uint vni, ReadOnlySpan<byte> frame);

    /// <summary>
    /// A whole burst of one tenant's frames (from a VM port), <paramref name="frames"/> of
    /// <paramref name="bytes"/> bytes in all, counted on its totals at once, before any is
    /// switched. Instead of Observe and Count per frame, the frames to sample (FirstSample, then
    /// every SampleRate) go to SampleAt, and CountSamples counts them once the burst is switched.
    /// </summary>
    void ObserveBurst(int tenant, int frames, ulong bytes);

    /// <summary>The index of the first frame of ObserveBurst's burst to sample; the burst's length or more: none.</summary>
    int FirstSample { get; }

    int SampleRate { get; }

    /// <summary>Takes the key of frame <paramref name="index"/> of the burst, which FirstSample and SampleRate named.</summary>
    void SampleAt(int index, int tenant, uint vni, ReadOnlySpan<byte> frame);

    /// <summary>Counts the burst's samples, each with the reason its frame was dropped (<paramref name="reasons"/>[index]; None: delivered).</summary>
    void CountSamples(ReadOnlySpan<DropReason> reasons);

    /// <summary>Counts the frame last observed, dropped for <paramref name="reason"/> unless None.</summary>
    void Count(DropReason reason);

    /// <summary>The burst is done: what was gathered over it goes to the table.</summary>
    void Finish();
}

/// <summary>Flow accounting off (flows.enabled: false): nothing, compiled away.</summary>
internal struct NoFlowAccounting : IFlowAccounting
{
    public static bool Enabled => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Observe(int tenant, uint vni, ReadOnlySpan<byte> frame)
    {
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void ObserveBurst(int tenant, int frames, ulong bytes)
    {
    }

    public readonly int FirstSample => int.MaxValue;

    public readonly int SampleRate => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void SampleAt(int index, int tenant, uint vni, ReadOnlySpan<byte> frame)
    {
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void CountSamples(ReadOnlySpan<DropReason> reasons)
    {
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Count(DropReason reason)
    {
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Finish()
    {
    }
}

/// <summary>
/// Flow accounting into a worker's table, every frame of one burst stamped with the burst's time.
/// From the uplink (Observe), a frame costs two adds to its tenant's running totals and the
/// sampling countdown, all in locals: the totals reach the table once per run of one tenant's
/// frames. From a VM port, whose burst is one tenant's, the burst is counted and its samples'
/// keys taken before the switching loop (ObserveBurst, SampleAt), and the samples counted after it
/// (CountSamples): the loop itself only notes each frame's drop reason, so it compiles as it does
/// with accounting off. A sampled frame's key and its flow's update run out of line
/// (FlowTable.cs, "Sampling").
/// </summary>
internal struct FlowTableAccounting(FlowTable table, long now) : IFlowAccounting
{
    public static bool Enabled => true;

    private int _countdown = table.Countdown;
    private int _tenant = int.MinValue;
    private ulong _packets, _bytes;
    private bool _sampled;
    // ObserveBurst's burst: the index of its first frame to sample (past the end: none).
    private int _next = int.MaxValue;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Observe(int tenant, uint vni, ReadOnlySpan<byte> frame)
    {
        StartRun(tenant);
        _packets++;
        _bytes += (ulong)frame.Length;
        _sampled = --_countdown == 0;
        if (_sampled)
        {
            _countdown = table.SampleRate;
            table.TakeSample(tenant, vni, frame);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ObserveBurst(int tenant, int frames, ulong bytes)
    {
        StartRun(tenant);
        _packets += (ulong)frames;
        _bytes += bytes;
        // The frames Observe would sample, one at a time: indexes countdown - 1, then every
        // SampleRate after; the countdown goes on from the burst's end.
        int rate = table.SampleRate;
        _next = _countdown - 1;
        int samples = _next < frames ? (frames - 1 - _next) / rate + 1 : 0;
        _countdown += samples * rate - frames;
    }

    public readonly int FirstSample => _next;

    public readonly int SampleRate => table.SampleRate;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void SampleAt(int index, int tenant, uint vni, ReadOnlySpan<byte> frame) => table.TakeSampleAt(index, tenant, vni, frame);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void CountSamples(ReadOnlySpan<DropReason> reasons) => table.CountSamples(reasons, now);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Count(DropReason reason)
    {
        if (_sampled)
            table.CountSample(now, reason);
    }

    /// <summary>Frames of <paramref name="tenant"/> next: the run of another tenant's before them goes to its totals.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void StartRun(int tenant)
    {
        if (tenant != _tenant)
        {
            table.AddToTotals(_tenant, _packets, _bytes);
            (_tenant, _packets, _bytes) = (tenant, 0, 0);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Finish()
    {
        table.AddToTotals(_tenant, _packets, _bytes);
        table.Countdown = _countdown;
    }
}
