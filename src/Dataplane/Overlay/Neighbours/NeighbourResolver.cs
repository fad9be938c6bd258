// The control side's timer for the neighbour table: every Period it takes the MACs workers saw in
// ARP from next hops, ages the table, and queues an ARP request on worker 0's mailbox for every
// next hop that is due one. Workers never wait for it: until a next hop resolves, frames toward
// it are dropped as neighbour_unresolved.
using System.Diagnostics;

namespace VSwitch.Dataplane.Overlay.Neighbours;

public sealed class NeighbourResolver : IDisposable
{
    /// <summary>Well under RetryInterval, so retries go out on time; each tick is a handful of array reads.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(100);

    private readonly NeighbourTable _table;
    private readonly NeighbourMailbox[] _mailboxes;
    private readonly ulong _mac;
    private readonly uint _vtep;
    private readonly Stopwatch _clock;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new();
    private readonly int[] _due;

    /// <param name="clock">The clock the table was created with: ages are measured on it.</param>
    public NeighbourResolver(NeighbourTable table, NeighbourMailbox[] mailboxes, ulong mac, uint vtep, Stopwatch clock)
    {
        _table = table;
        _mailboxes = mailboxes;
        _mac = mac;
        _vtep = vtep;
        _clock = clock;
        _due = new int[table.Count];
        _thread = new Thread(Run) { IsBackground = true, Name = "vsw-neighbours" };
    }

    /// <summary>
    /// Runs the first round at once, so requests for unresolved next hops are queued before any
    /// frame needs them (and, offline, whatever the run's length), then ticks every Period.
    /// </summary>
    public void Start()
    {
        Tick(_clock.Elapsed);
        _thread.Start();
    }

    public void Dispose()
    {
        _stop.Set();
        if (_thread.IsAlive)
            _thread.Join();
        _stop.Dispose();
    }

    private void Run()
    {
        while (!_stop.Wait(Period))
            Tick(_clock.Elapsed);
    }

    /// <summary>One round: learn, age, request; allocates nothing. Public so tests can drive it with their own time.</summary>
    public void Tick(TimeSpan now)
    {
        foreach (NeighbourMailbox mailbox in _mailboxes)
        {
            while (mailbox.Learned.TryRead(out LearnedNeighbour learned))
                _table.Learn(learned.Index, learned.Mac, now);
        }
        int due = _table.Tick(now, _due);
        for (int i = 0; i < due; i++)
        {
            var frame = new ArpFrame();
            Protocols.Arp.WriteRequest(frame, _mac, _vtep, _table.IpOf(_due[i]));
            // A full ring means worker 0 is not polling; the next retry will try again.
            _mailboxes[0].Outbound.TryWrite(frame);
        }
    }
}
