// A poll-mode worker: one .NET thread pinned to one core and registered with DPDK, looping over
// its rx queues in bursts (the DPDK l2fwd model). Per burst it crosses into native code once to
// receive, once per egress queue to transmit, and once to free drops; per frame it runs only
// managed code on the frame's bytes. It allocates nothing, takes no locks and never throws on
// frame contents: every outcome is a counter.
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Flows;
using VSwitch.Dataplane.Interop;
using VSwitch.Dataplane.Overlay;
using VSwitch.Dataplane.Overlay.Neighbours;
using VSwitch.Dataplane.Ports;
using VSwitch.Dataplane.Switching;
using VSwitch.Dataplane.Vhost;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;
using static VSwitch.Dataplane.Interop.Interop;

namespace VSwitch.Dataplane.Workers;

/// <summary>Where a worker reads the current tables from; the daemon swaps them.</summary>
public interface ITableSource
{
    SwitchTables Tables { get; }
}

internal sealed class PollWorker : IDisposable
{
    public const int BurstSize = MbufBudget.BurstSize;
    private const int SlotCount = SwitchTables.MaxQueueSlots;
    // GC.GetAllocatedBytesForCurrentThread is cheap but not free: sample it every 1024 loops.
    private const int AllocationSampleMask = 1023;
    // A guest transmit vring that was empty this many polls in a row is idle: it is polled on one
    // loop in IdlePollInterval only, staggered over the idle vrings, until it yields a frame. An
    // empty vhost dequeue is not free (the library takes and drops the vring's lock and reads its
    // own and the guest's state): with 126 idle VMs connected, a poll loop took 5350 cycles, 42
    // per idle VM; polled one loop in 8, 870 (bench/pvp, vsw-128). The price is the first frame
    // of an idle VM: it waits at most 8 loops (microseconds idle, tens of them under full load).
    private const int IdleAfterEmptyPolls = 1024;
    private const int IdlePollInterval = 8;

    private readonly int _index;
    private readonly ITableSource _source;
    private readonly uint _idleSleepMicroseconds;
    private readonly IntPtr _mempool;
    private readonly NeighbourMailbox _mailbox;
    private readonly Thread _thread;
    // Created here, on the control thread: the first Array.Empty<T>() of a type allocates its
    // singleton, and on the worker that would be a managed allocation in the hot path.
    private readonly TunnelEndpoint[] _noRemoteEndpoints = Array.Empty<TunnelEndpoint>();
    private readonly FloodLimiter _floodLimiter = new();
    private readonly FlowTable? _flows;
    // Consecutive empty polls per entry of this worker's rx queue list (saturating). Indexed by
    // position: after a table swap a queue may inherit another's count, which costs it at most
    // one poll interval.
    private readonly int[] _emptyPolls = new int[SwitchTables.MaxQueueSlots];
    private volatile bool _stop;

    private readonly MbufArena _arena;
    private readonly MbufArray _rx;
    // Frames of the current burst to free: drops, and frames consumed without being sent.
    private readonly MbufArray _drops;
    // Each frame's fate in a burst from a VM port, for its flow accounting's samples (SwitchBurst).
    private readonly DropReason[] _burstReasons = new DropReason[BurstSize];
    // Fresh mbufs for head-end replicas of one flooded frame: one per remote host at most.
    private readonly MbufArray _replicas;
    // Tx staging per (egress port, queue) slot, BurstSize frames each. A frame goes to any one
    // (port, queue) at most once per burst, so a slot never holds more than a burst.
    private readonly MbufArray _slots;
    private readonly int[] _slotFill = new int[SlotCount];
    private readonly int[] _dirty = new int[SlotCount];
    private int _dirtyCount;
    private int _dropCount;
    private long _allocationBaseline = -1;
    private long _jitBaseline;

    public int Index => _index;
    public int Core { get; }
    /// <summary>The flows this worker counted; null when flow accounting is off.</summary>
    public FlowTable? Flows => _flows;
    public WorkerCounters Counters { get; } = new(SwitchTables.MaxPorts, SwitchTables.MaxQueues, OverlaySpec.MaxRemoteHosts);

    /// <summary>
    /// Drops of tunnelled frames whose tunnel was known, by (VNI, reason): the tenants' share of
    /// the uplink port's drops. Beside Counters, not in it: a sparse table is merged by VNI
    /// (CountersSnapshot.TenantUplinkDropsOf), never summed slot by slot as WorkerCounters.Sum does.
    /// </summary>
    public VniDropTable TenantUplinkDrops { get; } = new();
    /// <summary>Set when the worker died; the daemon stops with an error.</summary>
    public Exception? Fault { get; private set; }
    public bool IsRunning => _thread.IsAlive;

    /// <param name="flows">This worker's flow table; null: flow accounting is off.</param>
    public PollWorker(int index, int core, ITableSource source, int idleSleepMicroseconds, IntPtr mempool, NeighbourMailbox mailbox, FlowTable? flows = null)
    {
        _flows = flows;
        _mempool = mempool;
        _mailbox = mailbox;
        _index = index;
        Core = core;
        _source = source;
        _idleSleepMicroseconds = (uint)idleSleepMicroseconds;
        _arena = new MbufArena(BurstSize, BurstSize, OverlaySpec.MaxRemoteHosts, SlotCount * BurstSize);
        _rx = _arena.Take(BurstSize);
        _drops = _arena.Take(BurstSize);
        _replicas = _arena.Take(OverlaySpec.MaxRemoteHosts);
        _slots = _arena.Take(SlotCount * BurstSize);
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
        _arena.Dispose();
    }

    private void Run()
    {
        try
        {
            PinCurrentThread(Core);
            if (rte_thread_register() != 0)
                throw new InvalidOperationException($"rte_thread_register failed: {RteStrError(RteErrno)}");
            // Every native call of the loop was first made on the control side (Interop.Bind*), so
            // none binds, and allocates, here.
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

    private void Poll()
    {
        WorkerCounters counters = Counters;
        long loops = 0;
        ulong loopStart = vsw_rdtsc();
        while (!_stop)
        {
            SwitchTables tables = _source.Tables;
            if (_flows is { } flows && flows.Layout != tables.TenantLayout)
                flows.Reset(tables.TenantLayout);
            RxQueue[] queues = tables.RxByWorker[_index];
            bool idle = true;
            int[] emptyPolls = _emptyPolls;
            for (int i = 0; i < queues.Length && i < emptyPolls.Length; i++)
            {
                RxQueue q = queues[i];
                int n;
                if (q.Vhost is null)
                {
                    n = _rx.RxBurst(q.Port, q.Queue);
                }
                else
                {
                    int empty = emptyPolls[i];
                    if (empty >= IdleAfterEmptyPolls && ((loops + i) & (IdlePollInterval - 1)) != 0)
                        continue;
                    n = ReceiveFromGuest(q.Vhost, q.Queue);
                    emptyPolls[i] = n != 0 ? 0 : Math.Min(empty + 1, IdleAfterEmptyPolls);
                }
                if (n == 0)
                    continue;
                idle = false;
                ProcessBurst(tables, q.Port, SwitchTables.QueueSlot(q.Port, q.Queue), n, (long)loopStart);
            }
            // Worker 0 sends what the neighbour resolver queued: ARP requests for unresolved next hops.
            if (_index == 0 && tables.Overlay is { } overlay && !_mailbox.Outbound.IsEmpty)
                SendNeighbourRequests(tables, overlay);
            counters.Polls++;
            Volatile.Write(ref counters.Epoch, counters.Epoch + 1);
            if ((++loops & AllocationSampleMask) == 0)
                SampleAllocations();
            if (idle && _idleSleepMicroseconds != 0)
                usleep(_idleSleepMicroseconds);
            // Each loop's cycles, its sleep included, are busy or idle as a whole (OVS's pmd_perf
            // model): busy cycles over packets is the work per frame, however fast frames arrive.
            ulong now = vsw_rdtsc();
            if (idle)
                counters.IdleCycles += now - loopStart;
            else
                counters.BusyCycles += now - loopStart;
            loopStart = now;
        }
    }

    /// <summary>
    /// Publishes the bytes this thread has allocated, and the methods JIT-compiled on it, since
    /// its first burst. The baseline waits for traffic so that the thread's own start (binding
    /// rte_thread_register, whose call site sits in a try block and so gets a P/Invoke stub) is
    /// not charged to the loop.
    /// </summary>
    private void SampleAllocations()
    {
        if (Counters.Packets == 0)
            return;
        long now = GC.GetAllocatedBytesForCurrentThread();
        long compiled = System.Runtime.JitInfo.GetCompiledMethodCount(currentThread: true);
        if (_allocationBaseline < 0)
            (_allocationBaseline, _jitBaseline) = (now, compiled);
        Volatile.Write(ref Counters.AllocatedBytes, now - _allocationBaseline);
        Volatile.Write(ref Counters.JitMethods, compiled - _jitBaseline);
    }

    /// <summary>
    /// A burst of <paramref name="n"/> frames in _rx from port <paramref name="port"/>, rx queue
    /// slot <paramref name="rxSlot"/> (SwitchTables.QueueSlot), received in the loop that began
    /// at TSC <paramref name="now"/>.
    /// </summary>
    private void ProcessBurst(SwitchTables tables, ushort port, int rxSlot, int n, long now)
    {
        WorkerCounters counters = Counters;
        counters.QueueRx[rxSlot] += (uint)n;
        counters.Packets += (uint)n;
        PortBinding? ingress = tables.Ports[port];
        OverlayTables? overlay = tables.Overlay;
        bool fromUplink = overlay is not null && ReferenceEquals(ingress, overlay.Uplink);
        if (!fromUplink && (ingress is null || !ingress.IsBoundVm))
        {
            DropBurst(rxSlot, n, ingress?.Role == PortRole.Uplink ? DropReason.UplinkNoOverlay : DropReason.UnboundPort);
            return;
        }

        _dropCount = 0;
        FlowTable? flows = _flows;
        if (fromUplink && flows is null)
            DecapsulateBurst(tables, overlay!, rxSlot, n, new NoFlowAccounting());
        else if (fromUplink)
            DecapsulateBurst(tables, overlay!, rxSlot, n, new FlowTableAccounting(flows!, now));
        else if (flows is null)
            SwitchBurst(tables, ingress!, rxSlot, n, new NoFlowAccounting());
        else
            SwitchBurst(tables, ingress!, rxSlot, n, new FlowTableAccounting(flows, now));
        if (_dropCount != 0)
            _drops.Slice(0, _dropCount).FreeBulk();
        Flush(tables);
    }

    // One loop per kind of ingress port, each compiled on its own: a burst comes from one port,
    // and a single loop holding both stages inlined spilled most of its state to the stack. Each
    // is compiled twice more, with flow accounting and without (Flows/FlowAccounting.cs).

    /// <summary>A burst from a VM port: switched, answered (ARP) or encapsulated.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SwitchBurst<TFlows>(SwitchTables tables, PortBinding ingress, int rxSlot, int n, TFlows flows) where TFlows : struct, IFlowAccounting
    {
        if (TFlows.Enabled)
            SampleBurst(ref flows, ingress.TenantIndex, n);
        for (int i = 0; i < n; i++)
        {
            IntPtr m = PrefetchNext(i, n);
            DropReason reason = Mbuf.SegmentCount(m) != 1 ? DropReason.MultiSegment : Switch(tables, ingress, m);
            if (TFlows.Enabled)
                _burstReasons[i] = reason;
            if (reason != DropReason.None)
                Drop(rxSlot, m, reason);
        }
        if (TFlows.Enabled)
            flows.CountSamples(_burstReasons.AsSpan(0, n));
        flows.Finish();
    }

    /// <summary>
    /// A burst from a VM port, all of one tenant, counted on its totals and its samples' keys
    /// taken before it is switched (encapsulation and the ARP responder rewrite frames in place).
    /// Out of line, so the switching loop holds nothing of the accounting but the drop reasons.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SampleBurst<TFlows>(ref TFlows flows, int tenant, int n) where TFlows : struct, IFlowAccounting
    {
        flows.ObserveBurst(tenant, n, _rx.DataLengths(n));
        int rate = flows.SampleRate;
        for (int i = flows.FirstSample; i < n; i += rate)
            flows.SampleAt(i, tenant, 0, Mbuf.Frame(_rx[i]));
    }

    /// <summary>A burst from the uplink: decapsulated, or the VTEP's own ARP.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DecapsulateBurst<TFlows>(SwitchTables tables, OverlayTables overlay, int rxSlot, int n, TFlows flows) where TFlows : struct, IFlowAccounting
    {
        for (int i = 0; i < n; i++)
        {
            IntPtr m = PrefetchNext(i, n);
            DropReason reason;
            if (Mbuf.SegmentCount(m) != 1)
            {
                if (TFlows.Enabled)
                    flows.Observe(-1, 0, Mbuf.Frame(m));
                reason = DropReason.MultiSegment;
            }
            else
            {
                reason = Decapsulate(tables, overlay, m, ref flows);
            }
            flows.Count(reason);
            if (reason != DropReason.None)
                Drop(rxSlot, m, reason);
        }
        flows.Finish();
    }

    /// <summary>Frame i of the burst, after asking for the next one's first cache line.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private IntPtr PrefetchNext(int i, int n)
    {
        if (i + 1 < n)
            Mbuf.Prefetch(_rx[i + 1]);
        return _rx[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Drop(int rxSlot, IntPtr m, DropReason reason)
    {
        Counters.DropAt(rxSlot, reason, 1);
        _drops[_dropCount++] = m;
    }

    /// <summary>Frees a frame of this burst that was used up without being sent (a learned ARP reply, a flood that only went to tunnels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Release(IntPtr m) => _drops[_dropCount++] = m;

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
            case ForwardAction.Encapsulate:
                return Encapsulate(tables.Overlay!, forwarding.Endpoint!, m);
            default:
                return FloodFromVm(tables, ingress, m, forwarding.Action);
        }
    }

    /// <summary>
    /// Broadcast, multicast (Flood) or unknown unicast (FloodLocal) from a VM: within the VM's
    /// flood limit (Switching/FloodLimiter.cs), flooded. Out of line, so known unicast pays nothing
    /// for the limit.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private DropReason FloodFromVm(SwitchTables tables, PortBinding ingress, IntPtr m, ForwardAction action)
    {
        DropReason reason = _floodLimiter.Admit(tables, ingress.PortId, action, default(SystemClock));
        return reason != DropReason.None ? reason : Flood(tables, ingress.TenantIndex, ingress, m, replicate: action == ForwardAction.Flood);
    }

    /// <summary>Known unicast to a remote VM, encapsulated in place and staged on the uplink.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private DropReason Encapsulate(OverlayTables overlay, TunnelEndpoint endpoint, IntPtr m)
    {
        DropReason reason = UplinkTransmit.Encapsulate(overlay, endpoint, m, Counters);
        if (reason == DropReason.None)
            Stage(overlay.Uplink, m);
        return reason;
    }

    /// <summary>
    /// From the uplink: the VTEP's ARP, neighbour learning, or a tunnelled frame to decapsulate and
    /// deliver. A frame whose tunnel is known is a flow of its tenant, keyed by the inner frame;
    /// any other (underlay ARP, frames refused before their tunnel was found) is one of no tenant.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private DropReason Decapsulate<TFlows>(SwitchTables tables, OverlayTables overlay, IntPtr m, ref TFlows flows) where TFlows : struct, IFlowAccounting
    {
        Span<byte> frame = Mbuf.Frame(m);
        DropReason reason = Decapsulation.Classify(tables, overlay, frame, out Decapsulated d);
        if (TFlows.Enabled && d.Tunnel is { } through)
            flows.Observe(through.TenantIndex, through.Vni, frame.Slice(d.InnerOffset, d.InnerLength));
        else if (TFlows.Enabled)
            flows.Observe(-1, 0, frame);
        if (reason != DropReason.None)
            return d.Tunnel is { } refused ? ChargeTenant(refused, reason) : reason;
        switch (d.Action)
        {
            case UplinkAction.VtepArpReply:
                Learn(d);
                Counters.VtepArpReplies++;
                Stage(overlay.Uplink, m);
                return DropReason.None;
            case UplinkAction.NeighbourLearned:
                Learn(d);
                Counters.NeighbourReplies++;
                Release(m);
                return DropReason.None;
        }
        TunnelEndpoint tunnel = d.Tunnel!;
        int host = tunnel.Host.Index;
        Counters.TunnelDecap[host]++;
        Counters.TunnelGeneveOptions[host] += (uint)d.GeneveOptions;
        Counters.TunnelGeneveCriticalOptions[host] += (uint)d.GeneveCriticalOptions;
        Mbuf.Narrow(m, d.InnerOffset, d.InnerLength);
        if (d.Action == UplinkAction.Flood)
            return ChargeTenant(tunnel, Flood(tables, tunnel.TenantIndex, null, m, replicate: false));
        Counters.Unicast++;
        Stage(d.Egress!, m);
        return DropReason.None;
    }

    /// <summary>
    /// Counts a tunnelled frame's drop under its tenant's VNI too (Counters/VniDropTable.cs), so a
    /// tenant's drops include what its remote VMs sent. Returns <paramref name="reason"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private DropReason ChargeTenant(TunnelEndpoint tunnel, DropReason reason)
    {
        if (reason != DropReason.None)
            TenantUplinkDrops.Add(tunnel.Vni, reason);
        return reason;
    }

    /// <summary>Hands an accepted ARP's next-hop MAC to the resolver (UnderlayArp: refused ARP teaches nothing).</summary>
    private void Learn(in Decapsulated d)
    {
        if (d.NeighbourIndex >= 0)
            _mailbox.Learned.TryWrite(new LearnedNeighbour(d.NeighbourIndex, d.LearnedMac));
    }

    /// <summary>
    /// Sends one frame to every other VM port of the tenant without copying it: the mbuf gets one
    /// reference per extra copy, and each tx (or free) drops one. With <paramref name="replicate"/>
    /// (broadcast and multicast from a VM) it also goes, as a copy with its own outer headers, to every remote host
    /// of the tenant (head-end replication); frames from a tunnel never go back into one. Kept out
    /// of line: known unicast is the common case, and the loops would bloat it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private DropReason Flood(SwitchTables tables, int tenant, PortBinding? ingress, IntPtr m, bool replicate)
    {
        PortBinding[] targets = tables.FloodPorts[tenant];
        OverlayTables? overlay = tables.Overlay;
        TunnelEndpoint[] remote = replicate && overlay is not null ? overlay.FloodEndpoints[tenant] : _noRemoteEndpoints;
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
        if (remote.Length == 0)
        {
            Counters.Drops[(int)DropReason.EgressMtuExceeded] += (uint)(copies == 0 ? 0 : tooLong);
            if (copies == 0)
                return tooLong == 0 ? DropReason.NoFloodTarget : DropReason.EgressMtuExceeded;
        }
        else
        {
            // Every copy counts on its own here: a replica that cannot go is a drop of that copy.
            Counters.Drops[(int)DropReason.EgressMtuExceeded] += (uint)tooLong;
            int replicas = Replicate(overlay!, remote, m);
            if (copies + replicas > 0)
                Counters.Flooded++;
            if (copies == 0)
            {
                Release(m);
                return DropReason.None;
            }
        }

        if (copies > 1)
            vsw_mbuf_refcnt_update(m, (short)(copies - 1));
        foreach (PortBinding target in targets)
        {
            if (!ReferenceEquals(target, ingress) && length <= target.MaxFrameLength)
                Stage(target, m);
        }
        if (remote.Length == 0)
            Counters.Flooded++;
        return DropReason.None;
    }

    /// <summary>Head-end replicas of frame m, one per remote endpoint (UplinkTransmit.Replicate), staged on the uplink; returns how many.</summary>
    private int Replicate(OverlayTables overlay, TunnelEndpoint[] endpoints, IntPtr m)
    {
        MbufArray replicas = _replicas.Slice(0, endpoints.Length);
        int ready = UplinkTransmit.Replicate(overlay, endpoints, replicas, _mempool, m, Counters);
        for (int i = 0; i < ready; i++)
            Stage(overlay.Uplink, replicas[i]);
        return ready;
    }

    /// <summary>Sends the ARP requests the neighbour resolver queued on the uplink.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SendNeighbourRequests(SwitchTables tables, OverlayTables overlay)
    {
        int ready;
        do
        {
            ready = UplinkTransmit.NeighbourRequests(_mailbox, _replicas, _mempool, Counters);
            for (int i = 0; i < ready; i++)
                Stage(overlay.Uplink, _replicas[i]);
        }
        while (ready == _replicas.Length);
        Flush(tables);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Stage(PortBinding egress, IntPtr m)
    {
        int queue = egress.Queues == 1 ? 0 : SpreadOverQueues(egress, m);
        int slot = SwitchTables.QueueSlot(egress.PortId, queue);
        int fill = _slotFill[slot];
        if (fill == BurstSize)
        {
            // Head-end replicas can put more than a burst on the uplink: send what is staged first.
            Transmit(slot, egress, fill);
            fill = 0; // still on the dirty list
        }
        else if (fill == 0)
        {
            _dirty[_dirtyCount++] = slot;
        }
        _slots[slot * BurstSize + fill] = m;
        _slotFill[slot] = fill + 1;
    }

    /// <summary>
    /// The tx queue of a multiqueue egress that frame m's flow keeps to. Out of line: Stage is
    /// inlined at every place a frame leaves, and the hash inlined there too bloated the worker loops.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int SpreadOverQueues(PortBinding egress, IntPtr m) => (int)(FlowHash.Compute(Mbuf.Frame(m)) % egress.Queues);

    /// <summary>
    /// Transmits every staged slot. Each worker owns its own tx queues on every port (worker w
    /// uses queues w*Q .. w*Q+Q-1), so no two workers ever share a tx queue and none needs a lock.
    /// </summary>
    private void Flush(SwitchTables tables)
    {
        for (int d = 0; d < _dirtyCount; d++)
        {
            int slot = _dirty[d];
            int fill = _slotFill[slot];
            if (fill != 0)
                Transmit(slot, tables.Ports[slot / SwitchTables.MaxQueues]!, fill);
        }
        _dirtyCount = 0;
    }

    /// <summary>Sends one slot's staged frames on its port's tx queue (or into the guest's rx vring) and empties it.</summary>
    private void Transmit(int slot, PortBinding egress, int fill)
    {
        WorkerCounters counters = Counters;
        ushort port = (ushort)(slot / SwitchTables.MaxQueues);
        int queue = slot % SwitchTables.MaxQueues;
        _slotFill[slot] = 0;
        MbufArray frames = _slots.Slice(slot * BurstSize, fill);
        int sent;
        DropReason unsent;
        if (egress.Vhost is { } vhost)
        {
            sent = SendToGuest(vhost, queue, frames, out unsent);
        }
        else
        {
            sent = frames.TxBurst(port, (ushort)(_index * egress.Queues + queue));
            unsent = DropReason.TxQueueFull;
        }
        counters.QueueTx[slot] += (uint)sent;
        if (sent < fill)
        {
            frames.Slice(sent, fill - sent).FreeBulk();
            counters.DropAt(slot, unsent, (uint)(fill - sent));
        }
    }

    // ReceiveFromGuest and SendToGuest stay out of line: inlined into Poll and Transmit, their
    // calls made the ethdev path pay too (2 ports, 42.5 against 44.8 Mpps in an A/B).

    /// <summary>
    /// The VM's frames from the guest transmit vring of <paramref name="queue"/>, copied into
    /// fresh mbufs; none while no frontend is connected or the vring is disabled.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int ReceiveFromGuest(VhostPort vhost, ushort queue)
    {
        int vid = vhost.Vid;
        if (vid < 0 || !vhost.GuestTxEnabled(queue))
            return 0;
        return _rx.VhostDequeueBurst(vid, (ushort)(2 * queue + 1), _mempool);
    }

    /// <summary>
    /// Copies the frames into the guest receive vring that configured queue <paramref name="queue"/>
    /// maps to. The library copies, so the frames it took are freed here; the caller frees the
    /// rest, dropped for <paramref name="unsent"/>: no device or vring to take them, or a guest
    /// that does not drain its ring (its frames only: no other port waits for it).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int SendToGuest(VhostPort vhost, int queue, MbufArray frames, out DropReason unsent)
    {
        int vid = vhost.Vid;
        int vring = vid < 0 ? -1 : vhost.GuestRxVring(queue);
        if (vring < 0)
        {
            unsent = DropReason.VhostNotReady;
            return 0;
        }
        unsent = DropReason.GuestRxRingFull;
        int sent = frames.VhostEnqueueBurst(vid, (ushort)vring);
        if (sent != 0)
            frames.Slice(0, sent).FreeBulk();
        return sent;
    }

    private void DropBurst(int rxSlot, int n, DropReason reason)
    {
        Counters.DropAt(rxSlot, reason, (uint)n);
        _rx.Slice(0, n).FreeBulk();
    }
}
