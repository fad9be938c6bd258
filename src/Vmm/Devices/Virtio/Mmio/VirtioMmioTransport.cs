// The virtio-mmio transport, version 2 (virtio 1.2 section 4.2 "Virtio Over MMIO"): the
// register block the guest's virtio_mmio driver finds through the DSDT ("LNRO0005", Acpi/Dsdt.cs)
// and drives through section 3.1's initialization sequence. Why MMIO and not PCI: docs/vmm.md.
//
// The guest is hostile. Control registers take only aligned 32-bit accesses (4.2.2.2); anything
// else reads all-ones and writes nothing. Queue registers are frozen once a queue is ready or the
// device runs; features only change before FEATURES_OK; FEATURES_OK is refused for features the
// device did not offer or without VERSION_1 (3.1.1); status bits are never cleared except by a
// reset (2.1.1). At DRIVER_OK every ready queue is checked (QueueConfig.Validate) before the
// device sees it, and a device that cannot run gets DEVICE_NEEDS_RESET with a configuration
// change interrupt (2.1.2). Every refusal is counted by reason.
//
// The interrupt is edge-triggered (Machine/DeviceInterrupt.cs): each notification sets its bit in
// InterruptStatus (4.2.2, bits 0 "used buffer" and 1 "configuration change") and then triggers,
// so the handler the edge runs finds the bit, from whichever thread (a vCPU, an I/O thread per
// request queue) raised it.
using System.Buffers.Binary;
using VSwitch.Vmm.Devices.Bus;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;

namespace VSwitch.Vmm.Devices.Virtio.Mmio;

/// <summary>
/// A guest's exits on one virtio-mmio window: InterruptStatus reads and InterruptACK writes (the
/// two a Linux guest makes per interrupt), QueueNotify writes per queue (a queue with an
/// ioeventfd never shows one: KVM takes it), and every other access.
/// </summary>
public sealed record MmioExitCounts(long InterruptStatusReads, long InterruptAcks, long[] QueueNotifies, long Other);

/// <summary>Why the transport refused a driver's access; counted in <see cref="VirtioMmioTransport.Refusals"/>.</summary>
public enum MmioRefusal
{
    /// <summary>A control register accessed with other than an aligned 32-bit access.</summary>
    BadAccessWidth,
    /// <summary>A write to a read-only or unknown register.</summary>
    ReadOnlyOrUnknownRegister,
    /// <summary>QueueSel names no queue of the device, then a queue register was used.</summary>
    NoSuchQueue,
    /// <summary>A queue register written while that queue is ready or the device runs.</summary>
    QueueFrozen,
    /// <summary>DriverFeatures written after FEATURES_OK.</summary>
    FeaturesFrozen,
    /// <summary>FEATURES_OK with features the device did not offer, or without VERSION_1.</summary>
    FeaturesRejected,
    /// <summary>A status write that clears bits (only 0, a reset, may).</summary>
    StatusBitCleared,
    /// <summary>DRIVER_OK without FEATURES_OK.</summary>
    DriverOkTooEarly,
    /// <summary>DRIVER_OK with a queue that fails QueueConfig.Validate, or a device that refused to start.</summary>
    ActivationFailed,
}

public sealed class VirtioMmioTransport : IBusDevice, IVirtioTransport
{
    /// <summary>Bytes of MMIO window per device: the registers, 256 bytes of config space, padded to a page.</summary>
    public const uint WindowSize = 0x1000;

    public const uint MagicValue = 0x7472_6976; // "virt" in little-endian bytes
    public const uint Version = 2;
    public const uint VendorId = 0x0057_5356;   // "VSW" in little-endian bytes

    // Register offsets (section 4.2.2, table "MMIO Device Register Layout").
    public const int RegMagicValue = 0x000;
    public const int RegVersion = 0x004;
    public const int RegDeviceId = 0x008;
    public const int RegVendorId = 0x00c;
    public const int RegDeviceFeatures = 0x010;
    public const int RegDeviceFeaturesSel = 0x014;
    public const int RegDriverFeatures = 0x020;
    public const int RegDriverFeaturesSel = 0x024;
    public const int RegQueueSel = 0x030;
    public const int RegQueueNumMax = 0x034;
    public const int RegQueueNum = 0x038;
    public const int RegQueueReady = 0x044;
    public const int RegQueueNotify = 0x050;
    public const int RegInterruptStatus = 0x060;
    public const int RegInterruptAck = 0x064;
    public const int RegStatus = 0x070;
    public const int RegQueueDescLow = 0x080;
    public const int RegQueueDescHigh = 0x084;
    public const int RegQueueDriverLow = 0x090;
    public const int RegQueueDriverHigh = 0x094;
    public const int RegQueueDeviceLow = 0x0a0;
    public const int RegQueueDeviceHigh = 0x0a4;
    public const int RegShmSel = 0x0ac;
    public const int RegShmLenLow = 0x0b0;
    public const int RegShmLenHigh = 0x0b4;
    public const int RegShmBaseLow = 0x0b8;
    public const int RegShmBaseHigh = 0x0bc;
    public const int RegConfigGeneration = 0x0fc;
    public const int RegConfig = 0x100;

    public const uint InterruptUsedBuffer = 1;
    public const uint InterruptConfigChange = 2;

    private readonly Lock _lock = new();
    private readonly IVirtioDevice _device;
    private readonly GuestMemory _memory;
    private readonly IInterruptTrigger _irq;
    private readonly Action<string>? _log;
    private readonly QueueRegisters[] _queues;
    private readonly long[] _refusals = new long[Enum.GetValues<MmioRefusal>().Length];
    // Every access here is a vCPU's exit to user space: counted by what it was for, so the cost of
    // an interrupt (status read + ACK) and of a kick that missed its ioeventfd can be read off.
    private readonly long[] _notifies;
    private long _interruptStatusReads, _interruptAcks, _otherAccesses;

    private DeviceStatus _status;
    private uint _deviceFeaturesSel;
    private uint _driverFeaturesSel;
    private ulong _driverFeatures;
    private uint _queueSel;
    private uint _interruptStatus;
    private uint _configGeneration;

    private struct QueueRegisters
    {
        public ushort Num;
        public bool Ready;
        public ulong Desc, Driver, Device;

        public readonly QueueConfig Config => new(Num, Desc, Driver, Device);
    }

    /// <param name="log">Receives one line per refused activation or reset request; null for silence.</param>
    public VirtioMmioTransport(IVirtioDevice device, GuestMemory memory, IInterruptTrigger irq, Action<string>? log = null)
    {
        _device = device;
        _memory = memory;
        _irq = irq;
        _log = log;
        _queues = new QueueRegisters[device.QueueMaxSizes.Length];
        _notifies = new long[_queues.Length];
    }

    /// <summary>
    /// Set when a backend raises this device's interrupt through an irqfd, past the VMM: the VMM
    /// never learns of those, so InterruptStatus reports "used buffer" whenever the device runs.
    /// Linux's vm_interrupt only looks at the queues when it sees that bit, and vring_interrupt
    /// takes a spurious one calmly (it finds no new used entry).
    /// </summary>
    public bool UsedBuffersByIrqfd { get; init; }

    public DeviceStatus Status
    {
        get { lock (_lock) return _status; }
    }

    /// <summary>How often each <see cref="MmioRefusal"/> happened, indexed by the enum.</summary>
    public long[] Refusals
    {
        get { lock (_lock) return [.. _refusals]; }
    }

    /// <summary>The guest's accesses to this window so far: each one was an exit to the VMM.</summary>
    public MmioExitCounts Exits
    {
        get { lock (_lock) return new(_interruptStatusReads, _interruptAcks, [.. _notifies], _otherAccesses); }
    }

    public void Read(ulong offset, Span<byte> data)
    {
        lock (_lock)
        {
            if (offset == RegInterruptStatus)
                _interruptStatusReads++;
            else
                _otherAccesses++;
            if (offset >= RegConfig)
            {
                _device.ReadConfig((int)(offset - RegConfig), data);
                return;
            }
            if (!IsControlAccess(offset, data.Length))
                return;
            BinaryPrimitives.WriteUInt32LittleEndian(data, ReadRegister((int)offset));
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (offset >= RegConfig)
            {
                _otherAccesses++;
                _device.WriteConfig((int)(offset - RegConfig), data);
                return;
            }
            if (!IsControlAccess(offset, data.Length))
            {
                _otherAccesses++;
                return;
            }
            uint value = BinaryPrimitives.ReadUInt32LittleEndian(data);
            if (offset == RegInterruptAck)
                _interruptAcks++;
            else if (offset == RegQueueNotify && value < (uint)_notifies.Length)
                _notifies[value]++;
            else
                _otherAccesses++;
            WriteRegister((int)offset, value);
        }
    }

    public void SignalUsedBuffers() => Raise(InterruptUsedBuffer);

    public void SignalConfigChange()
    {
        lock (_lock)
            _configGeneration++;
        Raise(InterruptConfigChange);
    }

    public void NeedsReset(string why)
    {
        lock (_lock)
        {
            if ((_status & DeviceStatus.NeedsReset) != 0)
                return;
            _status |= DeviceStatus.NeedsReset;
            _log?.Invoke($"virtio-{_device.DeviceType.ToString().ToLowerInvariant()}: device needs reset: {why}");
        }
        // 2.1.2: with DRIVER_OK set, a configuration change notification tells the driver.
        Raise(InterruptConfigChange);
    }

    private void Raise(uint reason)
    {
        lock (_lock)
            _interruptStatus |= reason;
        _irq.Trigger();
    }

    private bool IsControlAccess(ulong offset, int length)
    {
        if (length == 4 && offset % 4 == 0)
            return true;
        Refuse(MmioRefusal.BadAccessWidth);
        return false;
    }

    private void Refuse(MmioRefusal refusal) => _refusals[(int)refusal]++;

    // What the device offers: its own bits, and VERSION_1, the only interface this transport has.
    private ulong OfferedFeatures => _device.DeviceFeatures | VirtioFeatures.Version1;

    private uint ReadRegister(int offset)
    {
        ulong offered = OfferedFeatures;
        return offset switch
        {
            RegMagicValue => MagicValue,
            RegVersion => Version,
            RegDeviceId => (uint)_device.DeviceType,
            RegVendorId => VendorId,
            RegDeviceFeatures => _deviceFeaturesSel switch
            {
                0 => (uint)offered,
                1 => (uint)(offered >> 32),
                _ => 0,
            },
            RegQueueNumMax => SelectedQueueExists ? _device.QueueMaxSizes[(int)_queueSel] : 0u,
            RegQueueReady => SelectedQueueExists && _queues[_queueSel].Ready ? 1u : 0u,
            RegInterruptStatus => UsedBuffersByIrqfd && (_status & DeviceStatus.DriverOk) != 0 ? _interruptStatus | InterruptUsedBuffer : _interruptStatus,
            RegStatus => (uint)_status,
            // No shared memory regions: a length of all-ones says "no such region" (4.2.2).
            RegShmLenLow or RegShmLenHigh or RegShmBaseLow or RegShmBaseHigh => uint.MaxValue,
            RegConfigGeneration => _configGeneration,
            _ => 0,
        };
    }

    private bool SelectedQueueExists => _queueSel < (uint)_queues.Length;

    private void WriteRegister(int offset, uint value)
    {
        switch (offset)
        {
            case RegDeviceFeaturesSel:
                _deviceFeaturesSel = value;
                break;
            case RegDriverFeaturesSel:
                _driverFeaturesSel = value;
                break;
            case RegDriverFeatures:
                if ((_status & DeviceStatus.FeaturesOk) != 0)
                    Refuse(MmioRefusal.FeaturesFrozen);
                else if (_driverFeaturesSel == 0)
                    _driverFeatures = SetLow(_driverFeatures, value);
                else if (_driverFeaturesSel == 1)
                    _driverFeatures = SetHigh(_driverFeatures, value);
                break; // higher selectors: no features there to accept
            case RegQueueSel:
                _queueSel = value;
                break;
            case RegQueueNum or RegQueueReady or RegQueueDescLow or RegQueueDescHigh
                or RegQueueDriverLow or RegQueueDriverHigh or RegQueueDeviceLow or RegQueueDeviceHigh:
                WriteQueueRegister(offset, value);
                break;
            case RegQueueNotify:
                if (value < (uint)_queues.Length && (_status & DeviceStatus.DriverOk) != 0 && (_status & DeviceStatus.NeedsReset) == 0)
                    _device.QueueNotify((int)value);
                else
                    Refuse(MmioRefusal.NoSuchQueue);
                break;
            case RegInterruptAck:
                _interruptStatus &= ~value;
                break;
            case RegStatus:
                WriteStatus((DeviceStatus)value);
                break;
            case RegShmSel:
                break;
            default:
                Refuse(MmioRefusal.ReadOnlyOrUnknownRegister);
                break;
        }
    }

    private void WriteQueueRegister(int offset, uint value)
    {
        if (!SelectedQueueExists)
        {
            Refuse(MmioRefusal.NoSuchQueue);
            return;
        }
        ref QueueRegisters queue = ref _queues[_queueSel];
        if (offset == RegQueueReady && value == 0 && (_status & DeviceStatus.DriverOk) == 0)
        {
            queue.Ready = false;
            return;
        }
        if (queue.Ready || (_status & DeviceStatus.DriverOk) != 0)
        {
            Refuse(MmioRefusal.QueueFrozen);
            return;
        }
        switch (offset)
        {
            // QueueNum is 32 bits on the wire; a value past 16 bits can never validate, so keep
            // it as 0 rather than let it wrap into a plausible size.
            case RegQueueNum: queue.Num = value <= ushort.MaxValue ? (ushort)value : (ushort)0; break;
            case RegQueueReady: queue.Ready = value != 0; break;
            case RegQueueDescLow: queue.Desc = SetLow(queue.Desc, value); break;
            case RegQueueDescHigh: queue.Desc = SetHigh(queue.Desc, value); break;
            case RegQueueDriverLow: queue.Driver = SetLow(queue.Driver, value); break;
            case RegQueueDriverHigh: queue.Driver = SetHigh(queue.Driver, value); break;
            case RegQueueDeviceLow: queue.Device = SetLow(queue.Device, value); break;
            case RegQueueDeviceHigh: queue.Device = SetHigh(queue.Device, value); break;
        }
    }

    private static ulong SetLow(ulong current, uint value) => (current & ~0xffff_ffffUL) | value;

    private static ulong SetHigh(ulong current, uint value) => (current & 0xffff_ffffUL) | ((ulong)value << 32);

    private void WriteStatus(DeviceStatus value)
    {
        if (value == DeviceStatus.Reset)
        {
            ResetLocked();
            return;
        }
        if ((value & _status) != (_status & ~DeviceStatus.NeedsReset))
        {
            Refuse(MmioRefusal.StatusBitCleared);
            return;
        }
        DeviceStatus added = value & ~_status;
        if ((added & DeviceStatus.FeaturesOk) != 0 && !AcceptFeatures())
        {
            Refuse(MmioRefusal.FeaturesRejected);
            value &= ~DeviceStatus.FeaturesOk; // 3.1.1: the driver re-reads and sees it refused
        }
        if ((added & DeviceStatus.DriverOk) != 0)
        {
            if ((value & DeviceStatus.FeaturesOk) == 0)
            {
                Refuse(MmioRefusal.DriverOkTooEarly);
                return;
            }
            _status = value | (_status & DeviceStatus.NeedsReset);
            Activate();
            return;
        }
        _status = value | (_status & DeviceStatus.NeedsReset);
    }

    private bool AcceptFeatures() =>
        (_driverFeatures & ~OfferedFeatures) == 0 && (_driverFeatures & VirtioFeatures.Version1) != 0;

    private void Activate()
    {
        var configs = new QueueConfig?[_queues.Length];
        string? error = null;
        for (int i = 0; i < _queues.Length && error is null; i++)
        {
            if (!_queues[i].Ready)
                continue;
            QueueConfig config = _queues[i].Config;
            if (config.Validate(_memory, _device.QueueMaxSizes[i]) is string why)
                error = $"queue {i}: {why}";
            configs[i] = config;
        }
        error ??= _device.Activate(new VirtioActivation(_memory, _driverFeatures, configs, this));
        if (error is null)
            return;
        Refuse(MmioRefusal.ActivationFailed);
        NeedsReset($"DRIVER_OK refused: {error}");
    }

    private void ResetLocked()
    {
        _device.Reset();
        _status = DeviceStatus.Reset;
        _driverFeatures = 0;
        _deviceFeaturesSel = 0;
        _driverFeaturesSel = 0;
        _queueSel = 0;
        _interruptStatus = 0;
        Array.Clear(_queues);
    }
}
