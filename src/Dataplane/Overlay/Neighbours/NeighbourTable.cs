// The uplink's neighbour table: the MAC of each next hop toward the remote VTEPs (the VTEP itself
// when it is inside the underlay prefix, else overlay.gateway), resolved by ARP (RFC 826) the way
// a host's neighbour cache does (RFC 1122 section 2.3.2.1: flood-protected retransmission, entries
// that time out). Lives on the control side; time is passed in, so tests drive it.
//
// States: incomplete (no MAC; frames toward it are dropped as neighbour_unresolved and a request
// goes out at most once per RetryInterval) -> resolved (learned from ARP; after RefreshAfter of
// the timeout a request goes out again, still at most once per RetryInterval, and a reply renews
// the entry; at the timeout without one it falls back to incomplete) ; static (from
// overlay.static_neighbours, never ages, never asks).
//
// Workers see only Macs: one ulong per next hop, 0 while unresolved, written with Volatile.Write.
using VSwitch.Dataplane.Spec;

namespace VSwitch.Dataplane.Overlay.Neighbours;

public enum NeighbourState
{
    Incomplete,
    Resolved,
    Static,
}

public readonly record struct NeighbourEntry(uint Ip, ulong Mac, NeighbourState State, TimeSpan Age);

public sealed class NeighbourTable
{
    /// <summary>At most one request per neighbour per second: RFC 1122 section 2.3.2.1 recommends no more than one per second.</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);
    /// <summary>Share of the timeout after which a resolved entry is refreshed, so it renews before it expires.</summary>
    public const double RefreshAfter = 0.75;

    private readonly object _gate = new();
    private readonly uint[] _ips;
    private readonly NeighbourState[] _states;
    private readonly TimeSpan[] _since;
    private readonly TimeSpan?[] _lastRequest;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _retryInterval;

    /// <summary>Published MAC per next hop (0: unresolved); the array workers read.</summary>
    public ulong[] Macs { get; }

    public int Count => _ips.Length;

    /// <param name="retryInterval">
    /// Least time between two requests for one next hop: RetryInterval, or TimeSpan.MaxValue to
    /// ask once only (offline runs, whose outputs must not depend on how long they take).
    /// </param>
    public NeighbourTable(OverlaySpec overlay, TimeSpan now, TimeSpan? retryInterval = null)
    {
        _retryInterval = retryInterval ?? RetryInterval;
        IReadOnlyList<uint> nextHops = overlay.NextHops();
        _ips = [.. nextHops];
        _states = new NeighbourState[_ips.Length];
        _since = new TimeSpan[_ips.Length];
        _lastRequest = new TimeSpan?[_ips.Length];
        _timeout = TimeSpan.FromSeconds(overlay.NeighbourTimeoutSeconds);
        Macs = overlay.StaticNeighbourMacs();
        for (int i = 0; i < _ips.Length; i++)
        {
            _states[i] = Macs[i] != 0 ? NeighbourState.Static : NeighbourState.Incomplete;
            _since[i] = now;
        }
    }

    public uint IpOf(int index) => _ips[index];

    /// <summary>A MAC for next hop <paramref name="index"/> seen in ARP: resolves or renews the entry (static entries stay as configured).</summary>
    public void Learn(int index, ulong mac, TimeSpan now)
    {
        if ((uint)index >= (uint)_ips.Length || mac == 0)
            return;
        lock (_gate)
        {
            if (_states[index] == NeighbourState.Static)
                return;
            _states[index] = NeighbourState.Resolved;
            _since[index] = now;
            _lastRequest[index] = null;
            Volatile.Write(ref Macs[index], mac);
        }
    }

    /// <summary>
    /// Ages the entries and returns the indexes of the next hops that need an ARP request now;
    /// the caller sends them. An entry past its timeout becomes incomplete and unpublished.
    /// </summary>
    public IReadOnlyList<int> Tick(TimeSpan now)
    {
        var due = new int[_ips.Length];
        return due[..Tick(now, due)];
    }

    /// <summary>
    /// Tick without allocating, for the resolver's timer (every allocation brings the next
    /// collection, which pauses the workers, closer): writes the due indexes into
    /// <paramref name="due"/> (at least Count long) and returns how many there are.
    /// </summary>
    public int Tick(TimeSpan now, Span<int> due)
    {
        int count = 0;
        lock (_gate)
        {
            for (int i = 0; i < _ips.Length; i++)
            {
                switch (_states[i])
                {
                    case NeighbourState.Static:
                        continue;
                    case NeighbourState.Resolved when now - _since[i] >= _timeout:
                        _states[i] = NeighbourState.Incomplete;
                        _since[i] = now;
                        Volatile.Write(ref Macs[i], 0);
                        break;
                    case NeighbourState.Resolved when now - _since[i] < _timeout * RefreshAfter:
                        continue;
                }
                if (_lastRequest[i] is TimeSpan last && now - last < _retryInterval)
                    continue;
                _lastRequest[i] = now;
                due[count++] = i;
            }
        }
        return count;
    }

    public IReadOnlyList<NeighbourEntry> Entries(TimeSpan now)
    {
        lock (_gate)
            return _ips.Select((ip, i) => new NeighbourEntry(ip, Macs[i], _states[i], now - _since[i])).ToArray();
    }
}
