// A poll-mode worker: one .NET thread pinned to one core and registered with DPDK, looping over
// its rx queues in bursts (the DPDK l2fwd model). Per burst it crosses into native code once to
// receive, once per egress queue to transmit, and once to free drops; per frame it runs only
// managed code on the frame's bytes. It allocates nothing, takes no locks and never throws on
// frame contents: every outcome is a counter.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Interop;
using VSwitch.Dataplane.Switching;
using static VSwitch.Dataplane.Interop.Interop;

namespace VSwitch.Dataplane.Workers;

/// <summary>Where a worker reads the current tables from; the daemon swaps them.</summary>
public interface ITableSource
{
    SwitchTables Tables { get; }
}

internal sealed unsafe class PollWorker : IDisposable
{
    public const int BurstSize = 32;
    /// <summary>Queues per port that a VM may have (config allows 1..8).</summary>
    public const int MaxQueues = 8;
    private const int SlotCount = SwitchTables.MaxPorts * MaxQueues;
    // GC.GetAllocatedBytesForCurrentThread is cheap but not free: sample it every 1024 loops.
    private const int AllocationSampleMask = 1023;

    private readonly int _index;
    private readonly ITableSource _source;
    private readonly uint _idleSleepMicroseconds;
    private readonly IntPtr _mempool;
    private readonly Thread _thread;
    private volatile bool _stop;

    // Native scratch: tx staging per (egress port, queue), BurstSize frames each. A frame goes
    // to any one (port, queue) at most once per burst, so a slot never holds more than a burst.
    private readonly IntPtr* _rx;
    private readonly IntPtr* _drops;
    private readonly IntPtr* _slots;
    private readonly int* _slotFill;
    private readonly int* _dirty;
    private int _dirtyCount;
    private long _allocationBaseline = -1;

    public int Index => _index;
    public int Core { get; }
    public WorkerCounters Counters { get; } = new();
    /// <summary>Set when the worker died; the daemon stops with an error.</summary>
    public Exception? Fault { get; private set; }
    public bool IsRunning => _thread.IsAlive;

    public PollWorker(int index, int core, ITableSource source, int idleSleepMicroseconds, IntPtr mempool)
    {
        _mempool = mempool;
        _index = index;
        Core = core;
        _source = source;
        _idleSleepMicroseconds = (uint)idleSleepMicroseconds;
        _rx = (IntPtr*)NativeMemory.AlignedAlloc(BurstSize * (nuint)sizeof(IntPtr), 64);
        _drops = (IntPtr*)NativeMemory.AlignedAlloc(BurstSize * (nuint)sizeof(IntPtr), 64);
        _slots = (IntPtr*)NativeMemory.AlignedAlloc(SlotCount * BurstSize * (nuint)sizeof(IntPtr), 64);
        _slotFill = (int*)NativeMemory.AllocZeroed(SlotCount, sizeof(int));
        _dirty = (int*)NativeMemory.AllocZeroed(SlotCount, sizeof(int));
        _thread = new Thread(Run) { IsBackground = true, Name = $"vsw-worker{index}" };
    }

    public void Start() => _thread.Start();

    public void Stop()
    {
        _stop = true;
        if (_thread.IsAlive)
            _thread.Join();
    }

    public void Dispose()
    {
        Stop();
        NativeMemory.AlignedFree(_rx);
        NativeMemory.AlignedFree(_drops);
        NativeMemory.AlignedFree(_slots);
        NativeMemory.Free(_slotFill);
        NativeMemory.Free(_dirty);
    }

    private void Run()
    {
        try
        {
            PinCurrentThread(Core);
            if (rte_thread_register() != 0)
                throw new InvalidOperationException($"rte_thread_register failed: {RteStrError(RteErrno)}");
            WarmUpNativeCalls();
            Poll();
        }
        catch (Exception e)
        {
            Fault = e;
            Console.Error.WriteLine($"vswitchd: worker {_index} on core {Core} stopped: {e}");
        }
        finally
        {
            rte_thread_unregister();
        }
    }

    /// <summary>
    /// Calls every native function of the loop once. A P/Invoke binds its target on first call,
    /// and the library resolver allocates while it does; binding here keeps that out of the
    /// loop's allocation count and its first bursts.
    /// </summary>
    private void WarmUpNativeCalls()
    {
        IntPtr m;
        if (vsw_pktmbuf_alloc_bulk(_mempool, &m, 1) != 0)
            throw new InvalidOperationException("mbuf pool exhausted before the first burst");
        vsw_mbuf_refcnt_update(m, 0);
        rte_pktmbuf_free_bulk(&m, 1);
        // A zero-frame burst on a started port binds tx; with no port yet, the first real burst does.
        if (_source.Tables.Ports.FirstOrDefault(p => p is not null) is { } port)
            _ = vsw_tx_burst(port.PortId, (ushort)(_index * port.Queues), _rx, 0);
        if (_idleSleepMicroseconds != 0)
            usleep(0);
    }

    private void Poll()
    {
        WorkerCounters counters = Counters;
        long loops = 0;
        while (!_stop)
        {
            SwitchTables tables = _source.Tables;
            RxQueue[] queues = tables.RxByWorker[_index];
            bool idle = true;
            for (int i = 0; i < queues.Length; i++)
            {
                RxQueue q = queues[i];
                int n = vsw_rx_burst(q.Port, q.Queue, _rx, BurstSize);
                if (n == 0)
                    continue;
                idle = false;
                ProcessBurst(tables, q.Port, n);
            }
            counters.Polls++;
            Volatile.Write(ref counters.Epoch, counters.Epoch + 1);
            if ((++loops & AllocationSampleMask) == 0)
                SampleAllocations();
            if (idle && _idleSleepMicroseconds != 0)
                usleep(_idleSleepMicroseconds);
        }
    }

    /// <summary>
    /// Publishes the bytes this thread has allocated since its first burst. The baseline waits
    /// for traffic so that first-call work (class constructors) is not charged to the loop.
    /// </summary>
    private void SampleAllocations()
    {
        if (Counters.Packets == 0)
            return;
        long now = GC.GetAllocatedBytesForCurrentThread();
        if (_allocationBaseline < 0)
            _allocationBaseline = now;
        Volatile.Write(ref Counters.AllocatedBytes, now - _allocationBaseline);
    }

    private void ProcessBurst(SwitchTables tables, ushort port, int n)
    {
        WorkerCounters counters = Counters;
        counters.PortRx[port] += (uint)n;
        counters.Packets += (uint)n;
        PortBinding? ingress = tables.Ports[port];
        if (ingress is null || !ingress.IsBoundVm)
        {
            DropBurst(port, n, ingress?.Role == PortRole.Uplink ? DropReason.UplinkNoOverlay : DropReason.UnboundPort);
            return;
        }

        int dropped = 0;
        for (int i = 0; i < n; i++)
        {
            IntPtr m = _rx[i];
            if (i + 1 < n && Sse.IsSupported)
                Sse.Prefetch0(Mbuf.Data(_rx[i + 1]));
            DropReason reason = Mbuf.SegmentCount(m) == 1
                ? Switch(tables, ingress, m)
                : DropReason.MultiSegment;
            if (reason == DropReason.None)
                continue;
            counters.Drops[(int)reason]++;
            counters.PortDrops[port]++;
            _drops[dropped++] = m;
        }
        if (dropped != 0)
            rte_pktmbuf_free_bulk(_drops, (uint)dropped);
        Flush(tables);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private DropReason Switch(SwitchTables tables, PortBinding ingress, IntPtr m)
    {
        DropReason reason = L2Switch.Classify(tables, ingress, Mbuf.Frame(m), out Forwarding forwarding);
        if (reason != DropReason.None)
            return reason;
        switch (forwarding.Action)
        {
            case ForwardAction.Unicast:
                Counters.Unicast++;
                Stage(forwarding.Egress!, m);
                return DropReason.None;
            case ForwardAction.ReplyToSender:
                Counters.ArpReplies++;
                Stage(ingress, m);
                return DropReason.None;
            default:
                return Flood(tables, ingress, m);
        }
    }

    /// <summary>
    /// Sends one frame to every other VM port of the tenant without copying it: the mbuf gets one
    /// reference per extra copy, and each tx (or free) drops one. Kept out of line: known unicast
    /// is the common case, and the loop over the tenant's ports would bloat it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private DropReason Flood(SwitchTables tables, PortBinding ingress, IntPtr m)
    {
        PortBinding[] targets = tables.FloodPorts[ingress.TenantIndex];
        int length = Mbuf.DataLen(m);
        int copies = 0, tooLong = 0;
        foreach (PortBinding target in targets)
        {
            if (ReferenceEquals(target, ingress))
                continue;
            if (length > target.MaxFrameLength)
                tooLong++;
            else
                copies++;
        }
        Counters.Drops[(int)DropReason.EgressMtuExceeded] += (uint)(copies == 0 ? 0 : tooLong);
        if (copies == 0)
            return tooLong == 0 ? DropReason.NoFloodTarget : DropReason.EgressMtuExceeded;

        if (copies > 1)
            vsw_mbuf_refcnt_update(m, (short)(copies - 1));
        foreach (PortBinding target in targets)
        {
            if (!ReferenceEquals(target, ingress) && length <= target.MaxFrameLength)
                Stage(target, m);
        }
        Counters.Flooded++;
        return DropReason.None;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Stage(PortBinding egress, IntPtr m)
    {
        int queue = egress.Queues == 1 ? 0 : (int)(FlowHash.Compute(Mbuf.Frame(m)) % egress.Queues);
        int slot = egress.PortId * MaxQueues + queue;
        int fill = _slotFill[slot];
        if (fill == 0)
            _dirty[_dirtyCount++] = slot;
        _slots[slot * BurstSize + fill] = m;
        _slotFill[slot] = fill + 1;
    }

    /// <summary>
    /// Transmits every staged slot. Each worker owns its own tx queues on every port (worker w
    /// uses queues w*Q .. w*Q+Q-1), so no two workers ever share a tx queue and none needs a lock.
    /// </summary>
    private void Flush(SwitchTables tables)
    {
        WorkerCounters counters = Counters;
        for (int d = 0; d < _dirtyCount; d++)
        {
            int slot = _dirty[d];
            ushort port = (ushort)(slot / MaxQueues);
            int queue = slot % MaxQueues;
            int fill = _slotFill[slot];
            _slotFill[slot] = 0;
            IntPtr* frames = _slots + slot * BurstSize;
            ushort txQueue = (ushort)(_index * tables.Ports[port]!.Queues + queue);
            int sent = vsw_tx_burst(port, txQueue, frames, (ushort)fill);
            counters.PortTx[port] += (uint)sent;
            if (sent < fill)
            {
                rte_pktmbuf_free_bulk(frames + sent, (uint)(fill - sent));
                counters.Drops[(int)DropReason.TxQueueFull] += (uint)(fill - sent);
                counters.PortDrops[port] += (uint)(fill - sent);
            }
        }
        _dirtyCount = 0;
    }

    private void DropBurst(ushort port, int n, DropReason reason)
    {
        Counters.Drops[(int)reason] += (uint)n;
        Counters.PortDrops[port] += (uint)n;
        rte_pktmbuf_free_bulk(_rx, (uint)n);
    }
}
