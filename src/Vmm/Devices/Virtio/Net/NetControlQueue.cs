// virtio-net's control virtqueue, which the VMM serves itself while the data queues go to
// vswitchd (virtio 1.2 section 5.1.6.5 "Control Virtqueue"). A request is
//   u8 class; u8 command; u8 command-specific-data[]; (device-readable)  u8 ack; (device-writable)
// and the device answers VIRTIO_NET_OK or VIRTIO_NET_ERR in ack. What this device accepts:
//  - VIRTIO_NET_CTRL_MQ / VQ_PAIRS_SET (5.1.6.5.5): le16 pairs in [1, max_virtqueue_pairs];
//    the device enables that many queue pairs at its backend (vhost-user SET_VRING_ENABLE);
//  - VIRTIO_NET_CTRL_ANNOUNCE / ACK (5.1.6.5.4): nothing to do, the device never announces.
// Everything else (RX mode, MAC and VLAN filters, offloads: features this device does not offer)
// is answered VIRTIO_NET_ERR. A request too short for its command, or without a writable ack
// byte, fails; the queue refuses malformed chains itself (Queue/SplitVirtqueue.cs).
using System.Buffers.Binary;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;

namespace VSwitch.Vmm.Devices.Virtio.Net;

/// <summary>How the control queue answered; counted per outcome.</summary>
public enum ControlOutcome
{
    /// <summary>Done, VIRTIO_NET_OK written.</summary>
    Ok,
    /// <summary>A class or command this device does not offer: VIRTIO_NET_ERR.</summary>
    Unsupported,
    /// <summary>A known command with a bad argument (pair count out of range): VIRTIO_NET_ERR.</summary>
    BadArgument,
    /// <summary>Shorter than its command's header and data: VIRTIO_NET_ERR when there is an ack byte.</summary>
    TooShort,
    /// <summary>No device-writable byte for the ack: returned with nothing written.</summary>
    NoAckByte,
    /// <summary>The backend could not apply it: VIRTIO_NET_ERR.</summary>
    BackendFailed,
}

public sealed class NetControlQueue
{
    public const byte ClassMq = 4;
    public const byte MqVqPairsSet = 0;
    public const byte ClassAnnounce = 3;
    public const byte AnnounceAck = 0;

    public const byte Ok = 0;
    public const byte Err = 1;

    private readonly SplitVirtqueue _queue;
    private readonly GuestMemory _memory;
    private readonly int _maxQueuePairs;
    private readonly Func<int, bool> _setQueuePairs;
    private readonly long[] _outcomes = new long[Enum.GetValues<ControlOutcome>().Length];
    private readonly ChainServer _serve;

    /// <param name="setQueuePairs">Enables that many queue pairs at the backend; false when it cannot.</param>
    public NetControlQueue(SplitVirtqueue queue, GuestMemory memory, int maxQueuePairs, Func<int, bool> setQueuePairs)
    {
        _queue = queue;
        _memory = memory;
        _maxQueuePairs = maxQueuePairs;
        _setQueuePairs = setQueuePairs;
        _serve = ServeOne;
    }

    public SplitVirtqueue Queue => _queue;

    /// <summary>How often each <see cref="ControlOutcome"/> happened, indexed by the enum.</summary>
    public ReadOnlySpan<long> Outcomes => _outcomes;

    /// <summary>
    /// Serves every request on the queue, then tells the transport: a used-buffer interrupt when
    /// the driver wants one, a reset request when the available ring is broken.
    /// </summary>
    public void Process(IVirtioTransport transport) => _queue.ServeAll(_serve, transport, "control queue");

    // One request: counted by outcome; the chain goes back with 1 byte written when acked.
    private uint ServeOne(in DescriptorChain chain)
    {
        ControlOutcome outcome = Serve(chain, out bool acked);
        _outcomes[(int)outcome]++;
        return acked ? 1u : 0u;
    }

    private ControlOutcome Serve(in DescriptorChain chain, out bool acked)
    {
        // The ack is the first device-writable byte; everything the device reads comes before it.
        acked = false;
        if (chain.WritableBytes < 1)
            return ControlOutcome.NoAckByte;
        Span<byte> request = stackalloc byte[4]; // class, command, and the largest data read here (le16)
        int length = chain.Read(_memory, 0, request);
        ControlOutcome outcome = length < 2 ? ControlOutcome.TooShort : Execute(request[0], request[1], request[2..length]);
        chain.Write(_memory, 0, [outcome == ControlOutcome.Ok ? Ok : Err]);
        acked = true;
        return outcome;
    }

    private ControlOutcome Execute(byte @class, byte command, ReadOnlySpan<byte> data)
    {
        switch ((@class, command))
        {
            case (ClassMq, MqVqPairsSet):
                if (data.Length < 2)
                    return ControlOutcome.TooShort;
                int pairs = BinaryPrimitives.ReadUInt16LittleEndian(data);
                if (pairs < 1 || pairs > _maxQueuePairs)
                    return ControlOutcome.BadArgument;
                return _setQueuePairs(pairs) ? ControlOutcome.Ok : ControlOutcome.BackendFailed;
            case (ClassAnnounce, AnnounceAck):
                return ControlOutcome.Ok;
            default:
                return ControlOutcome.Unsupported;
        }
    }
}
