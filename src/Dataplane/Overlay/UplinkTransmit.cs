// What a worker makes for the uplink, on mbufs: a VM's frame encapsulated in place toward one
// remote VM (known unicast), copies of a flooded frame toward every remote host of its tenant
// (head-end replication: one unicast copy per host, no multicast underlay), and the ARP requests
// the neighbour resolver queued. Each returns the frames ready to go and counts every one that is
// not under its own reason; the worker stages the ready ones on the uplink's tx queues
// (Workers/PollWorker.cs), so this file holds no tx state.
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Interop;
using VSwitch.Dataplane.Overlay.Neighbours;
using VSwitch.Dataplane.Switching;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Dataplane.Overlay;

internal static class UplinkTransmit
{
    /// <summary>Known unicast to a remote VM: the outer headers go into the mbuf's headroom, no copy. The frame is ready for the uplink when this returns DropReason.None.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Encapsulate(OverlayTables overlay, TunnelEndpoint endpoint, IntPtr m, WorkerCounters counters)
    {
        DropReason reason = Encapsulation.Check(overlay, endpoint, Mbuf.DataLen(m), out ulong nextHop);
        if (reason != DropReason.None)
            return reason;
        ushort sourcePort = Encapsulation.SourcePort(FlowHash.Compute(Mbuf.Frame(m)));
        if (!Mbuf.Prepend(m, endpoint.HeaderLength))
            return DropReason.NoHeadroom;
        Encapsulation.Write(Mbuf.Frame(m), endpoint, nextHop, sourcePort);
        counters.TunnelEncap[endpoint.HostIndex]++;
        return DropReason.None;
    }

    /// <summary>
    /// Fills <paramref name="replicas"/> (one entry per endpoint) with fresh mbufs from
    /// <paramref name="mempool"/>, each a copy of frame <paramref name="m"/> behind that
    /// endpoint's outer headers. The copies ready for the uplink end up at the front, in endpoint
    /// order; the rest are freed, each counted under its own reason. Returns how many are ready.
    /// </summary>
    public static int Replicate(OverlayTables overlay, TunnelEndpoint[] endpoints, MbufArray replicas, IntPtr mempool, IntPtr m, WorkerCounters counters)
    {
        int n = endpoints.Length;
        if (!replicas.AllocBulk(mempool))
        {
            counters.Drops[(int)DropReason.MbufPoolExhausted] += (uint)n;
            return 0;
        }
        ReadOnlySpan<byte> inner = Mbuf.Frame(m);
        int length = inner.Length;
        ushort sourcePort = Encapsulation.SourcePort(FlowHash.Compute(inner));
        int ready = 0;
        for (int i = 0; i < n; i++)
        {
            TunnelEndpoint endpoint = endpoints[i];
            IntPtr r = replicas[i];
            int total = endpoint.HeaderLength + length;
            DropReason reason = Encapsulation.Check(overlay, endpoint, length, out ulong nextHop);
            if (reason == DropReason.None && Mbuf.Room(r) < total)
                reason = DropReason.NoHeadroom;
            if (reason != DropReason.None)
            {
                counters.Drops[(int)reason]++;
                continue;
            }
            Mbuf.SetLength(r, total);
            Span<byte> packet = Mbuf.Frame(r);
            inner.CopyTo(packet.Slice(endpoint.HeaderLength));
            Encapsulation.Write(packet, endpoint, nextHop, sourcePort);
            counters.TunnelEncap[endpoint.HostIndex]++;
            // Entries ready..i-1 are unused ones: swapping keeps the ready ones in order at the front.
            replicas[i] = replicas[ready];
            replicas[ready++] = r;
        }
        if (ready != n)
            replicas.Slice(ready, n - ready).FreeBulk();
        return ready;
    }

    /// <summary>
    /// Takes the ARP requests the neighbour resolver queued in <paramref name="mailbox"/>, each
    /// into a fresh mbuf, into <paramref name="requests"/> from the front until it is full or the
    /// mailbox empty. Returns how many are ready for the uplink.
    /// </summary>
    public static int NeighbourRequests(NeighbourMailbox mailbox, MbufArray requests, IntPtr mempool, WorkerCounters counters)
    {
        int ready = 0;
        while (ready < requests.Length && mailbox.Outbound.TryRead(out ArpFrame frame))
        {
            if (!requests.Slice(ready, 1).AllocBulk(mempool))
            {
                counters.Drops[(int)DropReason.MbufPoolExhausted]++;
                continue;
            }
            IntPtr r = requests[ready++];
            Mbuf.SetLength(r, ArpFrame.Length);
            ((ReadOnlySpan<byte>)frame).CopyTo(Mbuf.Frame(r));
            counters.ArpRequestsSent++;
        }
        return ready;
    }
}
