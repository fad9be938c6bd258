// A guest's virtio-net driver played by the test, on the VMM's own vhost-user frontend: guest RAM
// is a real memfd (GuestMemory), the rings are laid out in it as Linux's virtio_net lays them
// (one queue pair, receiveq1 and transmitq1, 64 entries each), and vswitchd, connecting in
// client mode, maps that memory and serves the rings. Frames carry virtio 1.x's 12-byte
// virtio_net_hdr (5.1.6), all zero: no offloads.
using System.Buffers.Binary;
using VSwitch.Tests.Unit.Vmm.Virtio;
using VSwitch.Vmm.Devices.Virtio;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.VhostUser;

namespace VSwitch.Tests.Integration.Vmm;

internal sealed class GuestNic : IDisposable
{
    public const int HeaderSize = 12;
    public const ushort QueueSize = 64;
    private const int BufferSize = 2048;
    private const ulong RxBuffers = 0x1_0000, TxBuffers = 0x4_0000;
    private static readonly QueueConfig s_rx = new(QueueSize, 0x1000, 0x2000, 0x3000);
    private static readonly QueueConfig s_tx = new(QueueSize, 0x4000, 0x5000, 0x6000);

    private readonly DriverQueue _rx;
    private readonly DriverQueue _tx;
    private readonly List<bool> _links = [];
    private readonly List<string> _log = [];
    private int _rxPosted, _txSent, _rxTaken;

    public GuestNic(string socket)
    {
        Memory = GuestMemory.Create(0x10_0000);
        _rx = new DriverQueue(Memory, s_rx);
        _tx = new DriverQueue(Memory, s_tx);
        Backend = new VhostUserNetBackend(socket, Memory, dataQueues: 2, up => { lock (_links) _links.Add(up); },
            line => { lock (_log) _log.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {line}"); });
    }

    public GuestMemory Memory { get; }

    /// <summary>What the frontend logged, for failure messages.</summary>
    public string Log
    {
        get { lock (_log) return string.Join("\n", _log); }
    }

    public VhostUserNetBackend Backend { get; }

    /// <summary>Every link change the frontend reported, in order.</summary>
    public bool[] LinkChanges
    {
        get { lock (_links) return [.. _links]; }
    }

    /// <summary>What the driver does at DRIVER_OK: posts <paramref name="rxBuffers"/> receive buffers and hands the queue pair over.</summary>
    public void Start(int rxBuffers)
    {
        for (int i = 0; i < rxBuffers; i++)
            PostRxBuffer();
        string? error = Backend.Start(new VirtioActivation(Memory, VirtioFeatures.Version1, [s_rx, s_tx, null], new NoTransport()), [s_rx, s_tx]);
        if (error is not null)
            throw new InvalidOperationException(error);
    }

    public void PostRxBuffer()
    {
        ushort slot = (ushort)(_rxPosted++ % QueueSize);
        _rx.Descriptor(slot, RxBuffers + (ulong)slot * BufferSize, BufferSize, DriverQueue.Write);
        _rx.Publish(slot);
    }

    /// <summary>Puts <paramref name="frame"/> on the transmit ring behind a zero header and kicks.</summary>
    public void Send(byte[] frame)
    {
        ushort slot = (ushort)(_txSent++ % QueueSize);
        ulong buffer = TxBuffers + (ulong)slot * BufferSize;
        Memory.GetSpan(buffer, HeaderSize).Clear();
        Memory.Write(buffer + HeaderSize, frame);
        _tx.Descriptor(slot, buffer, (uint)(HeaderSize + frame.Length));
        _tx.Publish(slot);
        Backend.Kick(1);
    }

    /// <summary>
    /// Posts chains no driver should on the transmit ring and kicks: descriptors laid out by
    /// <paramref name="write"/> (which may use every slot), then <paramref name="heads"/> published.
    /// </summary>
    public void SendHostile(Action<DriverQueue> write, params ushort[] heads)
    {
        write(_tx);
        foreach (ushort head in heads)
            _tx.Publish(head);
        _txSent += heads.Length;
        Backend.Kick(1);
    }

    public ushort TxUsed => _tx.UsedIndex;

    /// <summary>The interrupts signalled on the receive and transmit rings since the last take.</summary>
    public (ulong Rx, ulong Tx) TakeInterrupts() => (Backend.CallOf(0).Take(), Backend.CallOf(1).Take());

    public ushort RxUsed => _rx.UsedIndex;

    /// <summary>Waits (on the receive queue's call eventfd) until <paramref name="count"/> more frames arrived; returns them with their descriptor heads.</summary>
    public List<(uint Head, byte[] Frame)> Receive(int count, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((ushort)(_rx.UsedIndex - _rxTaken) < count && clock.Elapsed < timeout)
            Backend.CallOf(0).Wait(TimeSpan.FromMilliseconds(100));
        var frames = new List<(uint, byte[])>();
        while (_rxTaken != _rx.UsedIndex)
        {
            (uint head, uint written) = _rx.Used(_rxTaken++);
            ulong buffer = RxBuffers + (ulong)head * BufferSize;
            frames.Add((head, Memory.GetSpan(buffer + HeaderSize, (int)written - HeaderSize).ToArray()));
        }
        return frames;
    }

    /// <summary>Waits for the transmit ring to have returned <paramref name="count"/> chains in all.</summary>
    public bool WaitTxUsed(int count, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (_tx.UsedIndex < count && clock.Elapsed < timeout)
            Thread.Sleep(10);
        return _tx.UsedIndex >= count;
    }

    /// <summary>Waits until the last link change reported is <paramref name="up"/>, after at least <paramref name="connections"/> backend connections.</summary>
    public bool WaitLink(bool up, int connections, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            bool[] changes = LinkChanges;
            if (changes.Length > 0 && changes[^1] == up && Backend.Frontend.Connections >= connections)
                return true;
            Thread.Sleep(20);
        }
        return false;
    }

    public void Dispose()
    {
        Backend.Dispose();
        Memory.Dispose();
    }

    private sealed class NoTransport : IVirtioTransport
    {
        public void SignalUsedBuffers() { }
        public void SignalConfigChange() { }
        public void NeedsReset(string why) => throw new InvalidOperationException(why);
    }
}
