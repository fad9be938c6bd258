// The fixed ACPI power-management registers the FADT points the guest at: the PM1a event block
// (PM1_STS + PM1_EN) and the PM1a control block (PM1_CNT), ACPI 6.4 section 4.8.3.1 "PM1 Event
// Grouping" and 4.8.3.2 "PM1 Control Grouping" (tables 4.13-4.16), and the reset register
// (FADT RESET_REG / RESET_VALUE, section 4.8.3.6). The guest powers off by writing SLP_TYP (its
// \_S5 value) with SLP_EN (section 7.4.2 "\_Sx (System States)", 16.1.7 "Transitioning from the
// Working to the Sleeping State"); it resets by writing RESET_VALUE to the reset register.
//
// The fixed-feature power button (section 4.8.2.2.1 "Power Button"; the FADT leaves PWR_BUTTON
// clear, which offers it): a press sets PWRBTN_STS whether or not the OS listens, and the SCI
// (FADT SCI_INT) is asserted, level-triggered, for as long as a status bit and its enable bit
// are both set (section 4.8.3.1: "if both bits are set, an SCI is generated"). Status bits are
// write-1-to-clear, so the OS's handler ends the interrupt by clearing PWRBTN_STS. A guest that
// never sets PWRBTN_EN (no ACPI button driver) gets no interrupt: the press stays pending in
// PWRBTN_STS, as on hardware.
//
// Only S5 exists: a one-shot VM has no sleep states, so any other SLP_TYP with SLP_EN is ignored
// (and counted), as on hardware that refuses a state its firmware never offered.
namespace VSwitch.Vmm.Devices.AcpiPm;

using System.Buffers.Binary;
using VSwitch.Vmm.Acpi;
using VSwitch.Vmm.Devices.Bus;

/// <summary>Why the guest asked the machine to stop.</summary>
public enum AcpiPmRequest
{
    PowerOff,
    Reset,
}

public sealed class AcpiPmDevice
{
    private readonly Lock _lock = new();
    private readonly byte _s5SleepType;
    private readonly byte _resetValue;
    private readonly Action<AcpiPmRequest> _request;
    private readonly IInterruptLine _sci;
    private bool _sciAsserted;
    private ushort _status;
    private ushort _enable;
    // SCI_EN reads 1 from the start: the FADT offers no SMI_CMD, so the platform is in ACPI mode
    // by definition (section 4.8.3.2.1) and the OS must find it so.
    private ushort _control = AcpiPorts.SciEnable;
    private long _ignoredSleeps;

    /// <param name="s5SleepType">The SLP_TYP value of the DSDT's \_S5 package.</param>
    /// <param name="resetValue">The FADT's RESET_VALUE.</param>
    /// <param name="sci">The SCI_INT line, driven at its level (it is level-triggered).</param>
    /// <param name="request">Called (outside any lock) when the guest powers off or resets.</param>
    public AcpiPmDevice(byte s5SleepType, byte resetValue, IInterruptLine sci, Action<AcpiPmRequest> request)
    {
        _s5SleepType = s5SleepType;
        _resetValue = resetValue;
        _sci = sci;
        _request = request;
        EventBlock = new EventRegisters(this);
        ControlBlock = new ControlRegister(this);
        ResetRegister = new ResetPort(this);
    }

    /// <summary>PM1a_EVT_BLK: 4 bytes, PM1_STS at 0, PM1_EN at 2.</summary>
    public IBusDevice EventBlock { get; }
    public const int EventBlockLength = AcpiPorts.Pm1EventLength;

    /// <summary>PM1a_CNT_BLK: 2 bytes.</summary>
    public IBusDevice ControlBlock { get; }
    public const int ControlBlockLength = AcpiPorts.Pm1ControlLength;

    /// <summary>The reset register: 1 byte in I/O space.</summary>
    public IBusDevice ResetRegister { get; }

    /// <summary>Sleep requests for states other than S5, which this machine does not have.</summary>
    public long IgnoredSleeps => Interlocked.Read(ref _ignoredSleeps);

    /// <summary>
    /// Presses the power button: sets PWRBTN_STS, which raises the SCI if the guest has set
    /// PWRBTN_EN. Returns whether it has, i.e. whether the guest's OS will hear the press.
    /// </summary>
    public bool PressPowerButton()
    {
        lock (_lock)
        {
            _status |= AcpiPorts.PowerButton;
            UpdateSci();
            return (_enable & AcpiPorts.PowerButton) != 0;
        }
    }

    // Under _lock, so that the last level driven is the one the registers now call for: two
    // threads (the API's press, a vCPU's write) setting the line outside it could land in the
    // other order and leave the SCI asserted with nothing pending, an interrupt no handler claims.
    private void UpdateSci()
    {
        bool asserted = (_status & _enable) != 0;
        if (asserted == _sciAsserted)
            return;
        _sciAsserted = asserted;
        _sci.Set(asserted);
    }

    private sealed class EventRegisters(AcpiPmDevice pm) : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data)
        {
            Span<byte> block = stackalloc byte[EventBlockLength];
            lock (pm._lock)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(block, pm._status);
                BinaryPrimitives.WriteUInt16LittleEndian(block[2..], pm._enable);
            }
            block.Slice((int)offset, data.Length).CopyTo(data); // the bus keeps offset + length inside the block
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            Span<byte> block = stackalloc byte[EventBlockLength];
            lock (pm._lock)
            {
                // Bytes not written keep 0 for the status half (clears nothing) and the enable value.
                BinaryPrimitives.WriteUInt16LittleEndian(block[2..], pm._enable);
                data.CopyTo(block[(int)offset..]);
                // Write-1-to-clear: the guest can clear status bits, never set them.
                pm._status &= (ushort)~BinaryPrimitives.ReadUInt16LittleEndian(block);
                // Enable bits read back as written: ACPICA checks each one it sets (GBL_EN for the
                // global lock, PWRBTN_EN) and disables the event when it does not stick.
                pm._enable = BinaryPrimitives.ReadUInt16LittleEndian(block[2..]);
                pm.UpdateSci();
            }
        }
    }

    private sealed class ControlRegister(AcpiPmDevice pm) : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data)
        {
            Span<byte> block = stackalloc byte[ControlBlockLength];
            lock (pm._lock)
                BinaryPrimitives.WriteUInt16LittleEndian(block, pm._control);
            block.Slice((int)offset, data.Length).CopyTo(data);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            bool powerOff = false;
            Span<byte> block = stackalloc byte[ControlBlockLength];
            lock (pm._lock)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(block, pm._control);
                data.CopyTo(block[(int)offset..]);
                ushort value = BinaryPrimitives.ReadUInt16LittleEndian(block);
                // SLP_EN is write-only and reads 0; SCI_EN stays 1 (no legacy mode to return to).
                pm._control = (ushort)((value & ~AcpiPorts.SleepEnable) | AcpiPorts.SciEnable);
                if ((value & AcpiPorts.SleepEnable) != 0)
                {
                    int sleepType = (value & AcpiPorts.SleepTypeMask) >> AcpiPorts.SleepTypeShift;
                    if (sleepType == pm._s5SleepType)
                        powerOff = true;
                    else
                        Interlocked.Increment(ref pm._ignoredSleeps);
                }
            }
            if (powerOff)
                pm._request(AcpiPmRequest.PowerOff);
        }
    }

    private sealed class ResetPort(AcpiPmDevice pm) : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data) => data[0] = 0;

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            if (data[0] == pm._resetValue)
                pm._request(AcpiPmRequest.Reset);
        }
    }
}
