// virtio-blk (virtio 1.2 section 5.2) as the VMM presents a volume: the feature bits, the
// configuration space (5.2.4) the guest reads the capacity and limits from, and one or more
// request queues (Block/BlockRequestQueue.cs) that the VMM serves itself. Requests are served
// on I/O threads, never on a vCPU: the machine wakes a queue's thread through the kick eventfd
// KVM signals on the guest's notify write, and a kick that still reaches the VMM (QueueNotify)
// is handed to the same thread, so a slow volume stalls that queue, never a vCPU.
using System.Buffers.Binary;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Volumes;

namespace VSwitch.Vmm.Devices.Virtio.Block;

public sealed class VirtioBlockDevice : IVirtioDevice
{
    // Device feature bits (5.2.3).
    public const ulong FeatureSizeMax = 1UL << 1;
    public const ulong FeatureSegMax = 1UL << 2;
    public const ulong FeatureReadOnly = 1UL << 5;
    public const ulong FeatureBlockSize = 1UL << 6;
    public const ulong FeatureFlush = 1UL << 9;
    public const ulong FeatureMultiqueue = 1UL << 12;
    public const ulong FeatureDiscard = 1UL << 13;
    public const ulong FeatureWriteZeroes = 1UL << 14;

    public const ushort QueueSize = 256;
    public const int MaxQueues = 16;

    /// <summary>The largest buffer the driver may put in a request (size_max): a request's pieces go to the volume one by one.</summary>
    public const uint SizeMax = 1 << 20;

    // Configuration space (5.2.4), the offsets of the fields this device fills.
    private const int ConfigCapacity = 0, ConfigSizeMax = 8, ConfigSegMax = 12, ConfigBlockSize = 20, ConfigNumQueues = 34,
        ConfigMaxDiscardSectors = 36, ConfigMaxDiscardSegments = 40, ConfigDiscardAlignment = 44,
        ConfigMaxWriteZeroesSectors = 48, ConfigMaxWriteZeroesSegments = 52, ConfigWriteZeroesMayUnmap = 56, ConfigSize = 60;

    private readonly IBlockVolume _volume;
    private readonly BlockLimits _limits;
    private readonly Action<int> _wake;
    private readonly ushort[] _queueMaxSizes;
    private readonly byte[] _config = new byte[ConfigSize];
    private readonly BlockCounters[] _counters;
    private readonly Lock _lock = new();
    private BlockRequestQueue?[] _queues = [];
    private IVirtioTransport? _transport;

    /// <param name="wake">Wakes queue n's I/O thread, which then calls <see cref="Process"/>.</param>
    public VirtioBlockDevice(IBlockVolume volume, int queues, Action<int> wake, BlockLimits? limits = null)
    {
        if (queues < 1 || queues > MaxQueues)
            throw new ArgumentOutOfRangeException(nameof(queues), $"queues: {queues} must be from 1 to {MaxQueues}");
        _volume = volume;
        _limits = limits ?? BlockLimits.Default;
        _wake = wake;
        _queueMaxSizes = new ushort[queues];
        Array.Fill(_queueMaxSizes, QueueSize);
        _counters = [.. Enumerable.Range(0, queues).Select(_ => new BlockCounters())];

        Span<byte> config = _config;
        BinaryPrimitives.WriteUInt64LittleEndian(config[ConfigCapacity..], (ulong)(volume.SizeBytes / BlockRequestQueue.SectorSize));
        BinaryPrimitives.WriteUInt32LittleEndian(config[ConfigSizeMax..], SizeMax);
        // A chain needs one descriptor for the header and one for the status besides the data.
        BinaryPrimitives.WriteUInt32LittleEndian(config[ConfigSegMax..], QueueSize - 2u);
        BinaryPrimitives.WriteUInt32LittleEndian(config[ConfigBlockSize..], BlockRequestQueue.SectorSize);
        BinaryPrimitives.WriteUInt16LittleEndian(config[ConfigNumQueues..], (ushort)queues);
        BinaryPrimitives.WriteUInt32LittleEndian(config[ConfigMaxDiscardSectors..], _limits.MaxDiscardSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(config[ConfigMaxDiscardSegments..], (uint)_limits.MaxDiscardSegments);
        BinaryPrimitives.WriteUInt32LittleEndian(config[ConfigDiscardAlignment..], 1); // in sectors: any sector
        BinaryPrimitives.WriteUInt32LittleEndian(config[ConfigMaxWriteZeroesSectors..], _limits.MaxWriteZeroesSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(config[ConfigMaxWriteZeroesSegments..], (uint)_limits.MaxWriteZeroesSegments);
        config[ConfigWriteZeroesMayUnmap] = 1;
    }

    public VirtioDeviceType DeviceType => VirtioDeviceType.Block;

    public ulong DeviceFeatures
    {
        get
        {
            ulong features = FeatureSizeMax | FeatureSegMax | FeatureBlockSize | FeatureFlush
                | VirtioFeatures.RingEventIdx | VirtioFeatures.RingIndirectDescriptors;
            // A read-only volume offers no way to change it: RO, and no discard or write-zeroes.
            features |= _volume.ReadOnly ? FeatureReadOnly : FeatureDiscard | FeatureWriteZeroes;
            return _queueMaxSizes.Length > 1 ? features | FeatureMultiqueue : features;
        }
    }

    public ReadOnlySpan<ushort> QueueMaxSizes => _queueMaxSizes;

    public IBlockVolume Volume => _volume;

    /// <summary>Every request queue's counters since the device was made, summed (they survive the driver's resets).</summary>
    public BlockQueueCounters Counters => BlockCounters.Sum(_counters);

    public void ReadConfig(int offset, Span<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
            data[i] = (uint)(offset + i) < ConfigSize ? _config[offset + i] : (byte)0xff;
    }

    // Every field this device fills is read-only to the driver (writeback needs CONFIG_WCE, not offered).
    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
    }

    // Linux uses as many queues as it has CPUs, up to num_queues: queues past those stay not ready.
    public string? Activate(VirtioActivation activation)
    {
        if (activation.Queues[0] is null)
            return "request queue 0 is not ready";
        var queues = new BlockRequestQueue?[activation.Queues.Count];
        for (int i = 0; i < queues.Length; i++)
        {
            if (activation.Queues[i] is QueueConfig config)
                queues[i] = new BlockRequestQueue(new SplitVirtqueue(activation.Memory, config, activation.Features), activation.Memory, _volume, _limits, _counters[i]);
        }
        lock (_lock)
        {
            _queues = queues;
            _transport = activation.Transport;
        }
        return null;
    }

    /// <summary>A kick that reached the VMM instead of the queue's eventfd: hand it to the I/O thread.</summary>
    public void QueueNotify(int queue)
    {
        if ((uint)queue < (uint)_queueMaxSizes.Length)
            _wake(queue);
    }

    /// <summary>Serves queue <paramref name="queue"/>'s requests; called on its I/O thread.</summary>
    public void Process(int queue)
    {
        BlockRequestQueue? requests;
        IVirtioTransport? transport;
        lock (_lock)
        {
            requests = (uint)queue < (uint)_queues.Length ? _queues[queue] : null;
            transport = _transport;
        }
        if (requests is not null && transport is not null)
            requests.Process(transport);
    }

    public void Reset()
    {
        BlockRequestQueue?[] queues;
        lock (_lock)
        {
            queues = _queues;
            _queues = [];
            _transport = null;
        }
        foreach (BlockRequestQueue? queue in queues)
            queue?.Retire();
    }
}
