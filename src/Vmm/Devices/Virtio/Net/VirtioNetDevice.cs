// virtio-net (virtio 1.2 section 5.1) as the VMM presents it: the feature bits, the
// configuration space the guest reads its MAC, MTU, link status and queue-pair limit from, and
// the queue layout rx0, tx0, rx1, tx1, ..., ctrl (5.1.2). The data queues belong to a backend in
// another process (vswitchd over vhost-user, INetBackend); the VMM serves only the control queue
// (Net/NetControlQueue.cs) and stays off the packet path.
using System.Buffers.Binary;
using VSwitch.Vmm.Devices.Virtio.Queue;

namespace VSwitch.Vmm.Devices.Virtio.Net;

/// <summary>Where a virtio-net device's data queues are served.</summary>
public interface INetBackend
{
    /// <summary>The virtio feature bits the backend supports (vhost-user GET_FEATURES).</summary>
    ulong Features { get; }

    /// <summary>Hands the backend the data queues and the negotiated features; null when it runs, else why not.</summary>
    string? Start(VirtioActivation activation, IReadOnlyList<QueueConfig?> dataQueues);

    /// <summary>Enables the first <paramref name="pairs"/> queue pairs and disables the rest; false when the backend cannot.</summary>
    bool SetQueuePairs(int pairs);

    /// <summary>A data queue's kick that reached the VMM (no ioeventfd took it).</summary>
    void Kick(int queue);

    /// <summary>The driver reset the device: the backend lets go of the rings.</summary>
    void Stop();
}

/// <summary>What a VM spec gives a NIC: MAC, MTU and queue pairs.</summary>
public sealed record NetDeviceConfig(byte[] Mac, ushort Mtu, int QueuePairs)
{
    /// <summary>The most queue pairs a device offers: vhost-user devices are limited to 8 memory regions, not queues, but each pair costs the backend a poll.</summary>
    public const int MaxQueuePairs = 16;

    /// <summary>Null when usable, else the message naming the bad field.</summary>
    public string? Validate()
    {
        if (Mac.Length != 6)
            return $"mac: {Mac.Length} bytes, a MAC address has 6";
        if ((Mac[0] & 1) != 0)
            return $"mac: {string.Join(':', Mac.Select(b => b.ToString("x2")))} is a multicast address; a NIC needs a unicast one";
        if (Mtu < 68)
            return $"mtu: {Mtu} is below IPv4's minimum of 68";
        if (QueuePairs < 1 || QueuePairs > MaxQueuePairs)
            return $"queue_pairs: {QueuePairs} must be from 1 to {MaxQueuePairs}";
        return null;
    }
}

public sealed class VirtioNetDevice : IVirtioDevice
{
    // Device feature bits (section 5.1.3).
    public const ulong FeatureMtu = 1UL << 3;
    public const ulong FeatureMac = 1UL << 5;
    public const ulong FeatureMergeableRxBuffers = 1UL << 15;
    public const ulong FeatureStatus = 1UL << 16;
    public const ulong FeatureControlQueue = 1UL << 17;
    public const ulong FeatureMultiqueue = 1UL << 22;

    /// <summary>
    /// The ring features the data queues may use, offered when the backend serves them (the
    /// control queue, a SplitVirtqueue, serves them all).
    /// </summary>
    public const ulong DataQueueRingFeatures = VirtioFeatures.RingEventIdx | VirtioFeatures.RingIndirectDescriptors | FeatureMergeableRxBuffers;

    /// <summary>VIRTIO_NET_S_LINK_UP in the configuration space's status field (5.1.4).</summary>
    public const ushort StatusLinkUp = 1;

    /// <summary>Entries per data queue; the control queue gets <see cref="ControlQueueSize"/>.</summary>
    public const ushort DataQueueSize = 256;
    public const ushort ControlQueueSize = 64;

    // Configuration space (5.1.4): mac[6], le16 status, le16 max_virtqueue_pairs, le16 mtu.
    private const int ConfigSize = 12;

    private readonly NetDeviceConfig _config;
    private readonly INetBackend _backend;
    private readonly ushort[] _queueMaxSizes;
    private readonly Lock _lock = new();
    private NetControlQueue? _control;
    private IVirtioTransport? _transport;
    private bool _linkUp; // down until the backend serves the rings

    public VirtioNetDevice(NetDeviceConfig config, INetBackend backend)
    {
        if (config.Validate() is string error)
            throw new ArgumentException(error, nameof(config));
        _config = config;
        _backend = backend;
        _queueMaxSizes = new ushort[2 * config.QueuePairs + 1];
        Array.Fill(_queueMaxSizes, DataQueueSize);
        _queueMaxSizes[^1] = ControlQueueSize;
    }

    public VirtioDeviceType DeviceType => VirtioDeviceType.Net;

    public ulong DeviceFeatures
    {
        get
        {
            ulong features = FeatureMac | FeatureMtu | FeatureStatus | FeatureControlQueue | (_backend.Features & DataQueueRingFeatures);
            return _config.QueuePairs > 1 ? features | FeatureMultiqueue : features;
        }
    }

    public ReadOnlySpan<ushort> QueueMaxSizes => _queueMaxSizes;

    public int ControlQueueIndex => _queueMaxSizes.Length - 1;

    /// <summary>The running control queue, for its counters; null before DRIVER_OK.</summary>
    public NetControlQueue? Control
    {
        get { lock (_lock) return _control; }
    }

    public void ReadConfig(int offset, Span<byte> data)
    {
        Span<byte> space = stackalloc byte[ConfigSize];
        _config.Mac.CopyTo(space);
        lock (_lock)
            BinaryPrimitives.WriteUInt16LittleEndian(space[6..], _linkUp ? StatusLinkUp : (ushort)0);
        BinaryPrimitives.WriteUInt16LittleEndian(space[8..], (ushort)_config.QueuePairs);
        BinaryPrimitives.WriteUInt16LittleEndian(space[10..], _config.Mtu);
        for (int i = 0; i < data.Length; i++)
            data[i] = (uint)(offset + i) < ConfigSize ? space[offset + i] : (byte)0xff;
    }

    // Read-only here: the MAC comes from the VM spec, and a driver that was offered VIRTIO_NET_F_MAC
    // does not write it (5.1.4.2); vswitchd's anti-spoofing would drop frames from another MAC anyway.
    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
    }

    public string? Activate(VirtioActivation activation)
    {
        if (activation.Queues[ControlQueueIndex] is not QueueConfig control)
            return "the control queue is not ready";
        var queue = new SplitVirtqueue(activation.Memory, control, activation.Features);
        string? error = _backend.Start(activation, activation.Queues.Take(ControlQueueIndex).ToArray());
        if (error is not null)
            return error;
        lock (_lock)
        {
            _transport = activation.Transport;
            _control = new NetControlQueue(queue, activation.Memory, _config.QueuePairs, _backend.SetQueuePairs);
        }
        return null;
    }

    public void QueueNotify(int queue)
    {
        if (queue != ControlQueueIndex)
        {
            _backend.Kick(queue);
            return;
        }
        lock (_lock)
        {
            if (_control is not null && _transport is not null)
                _control.Process(_transport);
        }
    }

    /// <summary>Changes the link status the guest reads (the backend went away or came back).</summary>
    public void SetLink(bool up)
    {
        IVirtioTransport? transport;
        lock (_lock)
        {
            if (_linkUp == up)
                return;
            _linkUp = up;
            transport = _transport;
        }
        transport?.SignalConfigChange();
    }

    public void Reset()
    {
        lock (_lock)
        {
            if (_control is not null)
                _backend.Stop();
            _control = null;
            _transport = null;
        }
    }
}
