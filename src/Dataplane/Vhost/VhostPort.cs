// One VM port served over vhost-user (QEMU docs/interop/vhost-user.rst; the device is a virtio
// network device, virtio 1.2 section 5.1): the VM's virtqueues live in its own memory, which
// DPDK's vhost library maps from the frontend's SET_MEM_TABLE, and the workers copy frames in and
// out of them directly. Queue pair q is two vrings: 2q, the guest's receive queue (the switch
// enqueues), and 2q+1, its transmit queue (the switch dequeues).
//
// The state here is written by DPDK's vhost-events thread (VhostPorts) and read by the workers
// without locks: the device id (vid) and the enabled vrings are single words, and the map from a
// configured queue to an enabled guest receive queue is an immutable array swapped whole.
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Spec;

namespace VSwitch.Dataplane.Vhost;

public sealed class VhostPort
{
    /// <summary>The vrings tracked in one word: 32 queue pairs, more than the 8 a port may configure.</summary>
    private const int TrackedVrings = 64;

    private int _vid = -1;
    private long _enabledVrings;
    private int[] _guestRxVring;
    private ulong _features;
    private int _vrings;
    private long _connections;

    public VhostPort(string name, ushort portId, VhostUserSpec spec, int queues)
    {
        Name = name;
        PortId = portId;
        Socket = spec.Socket;
        Mode = spec.Mode;
        Queues = queues;
        _guestRxVring = NoVrings(queues);
    }

    public string Name { get; }
    public ushort PortId { get; }
    public string Socket { get; }
    public VhostUserMode Mode { get; }
    /// <summary>The configured queue pairs: what the workers poll and spread frames over.</summary>
    public int Queues { get; }

    /// <summary>The vhost library's device id while a frontend is connected and ready; -1 otherwise.</summary>
    public int Vid
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref _vid);
    }

    /// <summary>True when the guest's transmit vring of <paramref name="queue"/> is enabled: frames may be dequeued from it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool GuestTxEnabled(int queue) => (Volatile.Read(ref _enabledVrings) & (1L << (2 * queue + 1))) != 0;

    /// <summary>
    /// The guest receive vring that frames staged for configured queue <paramref name="queue"/>
    /// go into: the queue itself when the guest enabled it, else one of those it did enable (a
    /// guest may use fewer queue pairs than configured; Linux starts with one); -1 when none is.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int GuestRxVring(int queue) => Volatile.Read(ref _guestRxVring)[queue];

    /// <summary>Frontend connections that became ready since the port was added.</summary>
    public long Connections => Interlocked.Read(ref _connections);

    /// <summary>A frontend finished negotiating: the workers may use <paramref name="vid"/> from now on.</summary>
    public void Connected(int vid, ulong features, int vrings)
    {
        _features = features;
        _vrings = vrings;
        Interlocked.Increment(ref _connections);
        Volatile.Write(ref _vid, vid);
    }

    /// <summary>The frontend went away: the workers stop using the device at their next burst.</summary>
    public void Disconnected()
    {
        Volatile.Write(ref _vid, -1);
        Volatile.Write(ref _enabledVrings, 0);
        Volatile.Write(ref _guestRxVring, NoVrings(Queues));
    }

    /// <summary>The frontend enabled or disabled one vring (SET_VRING_ENABLE, or the vring became ready).</summary>
    public void SetVring(int vring, bool enabled)
    {
        if (vring is < 0 or >= TrackedVrings)
            return;
        long bit = 1L << vring;
        long mask = enabled ? Interlocked.Or(ref _enabledVrings, bit) | bit : Interlocked.And(ref _enabledVrings, ~bit) & ~bit;
        Volatile.Write(ref _guestRxVring, MapGuestRxVrings(mask, Queues));
    }

    /// <summary>Configured queue i goes to guest receive queue i when enabled; the others are dealt over the enabled ones in turn.</summary>
    internal static int[] MapGuestRxVrings(long enabledVrings, int queues)
    {
        var enabled = new List<int>();
        for (int q = 0; 2 * q < TrackedVrings; q++)
        {
            if ((enabledVrings & (1L << (2 * q))) != 0)
                enabled.Add(2 * q);
        }
        var map = new int[queues];
        int next = 0;
        for (int i = 0; i < queues; i++)
            map[i] = enabled.Count == 0 ? -1 : enabled.Contains(2 * i) ? 2 * i : enabled[next++ % enabled.Count];
        return map;
    }

    private static int[] NoVrings(int queues) => Enumerable.Repeat(-1, queues).ToArray();

    /// <summary>What the control socket reports of the device.</summary>
    public VhostPortState State()
    {
        long mask = Volatile.Read(ref _enabledVrings);
        var rx = new List<int>();
        var tx = new List<int>();
        for (int vring = 0; vring < TrackedVrings; vring++)
        {
            if ((mask & (1L << vring)) != 0)
                (vring % 2 == 0 ? rx : tx).Add(vring / 2);
        }
        bool connected = Vid >= 0;
        return new VhostPortState(connected, connected ? _features : 0, connected ? _vrings / 2 : 0, rx, tx, Connections);
    }
}

/// <param name="Features">The virtio feature bits the frontend acked (virtio 1.2 section 5.1.3).</param>
/// <param name="QueuePairs">Queue pairs the frontend set up.</param>
/// <param name="GuestRxQueues">Queue pairs whose guest receive vring is enabled: frames to the VM go there.</param>
/// <param name="GuestTxQueues">Queue pairs whose guest transmit vring is enabled: polled for the VM's frames.</param>
public sealed record VhostPortState(bool Connected, ulong Features, int QueuePairs, IReadOnlyList<int> GuestRxQueues,
    IReadOnlyList<int> GuestTxQueues, long Connections);
