// The PC keyboard controller (Intel 8042), only as far as a guest without a keyboard needs it:
// Linux's i8042 driver (drivers/input/serio/i8042.c) finds a sane, empty controller, and its
// "reboot=k" path (arch/x86/kernel/reboot.c, kb_wait + outb(0xfe, 0x64)) resets the machine by
// pulsing the CPU reset line. Ports and commands: IBM PC/AT Technical Reference, "Keyboard
// Controller" (data port 0x60, status/command port 0x64); the set follows Firecracker's i8042
// (src/vmm/src/devices/legacy/i8042.rs).
namespace VSwitch.Vmm.Devices.I8042;

using VSwitch.Vmm.Devices.Bus;

public sealed class I8042Controller : IBusDevice
{
    /// <summary>The controller's ports: data at 0x60, status/command at 0x64 (base 0x60, length 5).</summary>
    public const ushort BasePort = 0x60;
    public const int PortCount = 5;
    private const int DataOffset = 0;
    private const int CommandOffset = 4;

    // Status register bits.
    private const byte StatusOutputFull = 0x01;
    private const byte StatusSystemFlag = 0x04;   // set once the self-test has passed
    private const byte StatusCommandLast = 0x08;  // the last byte written went to the command port
    private const byte StatusNotInhibited = 0x10; // keyboard not locked (Linux warns "Keylock active" otherwise)

    // Command byte bits the enable/disable commands flip.
    private const byte CommandByteKeyboardDisabled = 0x10;
    private const byte CommandByteAuxDisabled = 0x20;

    // Controller commands (port 0x64).
    private const byte ReadCommandByte = 0x20;
    private const byte WriteCommandByte = 0x60;
    private const byte DisableAux = 0xA7, EnableAux = 0xA8, TestAux = 0xA9;
    private const byte SelfTest = 0xAA, TestKeyboard = 0xAB;
    private const byte DisableKeyboard = 0xAD, EnableKeyboard = 0xAE;
    private const byte ReadOutputPort = 0xD0, WriteOutputPort = 0xD1;
    private const byte PulseResetLine = 0xFE;

    private const byte SelfTestPassed = 0x55;
    private const byte InterfaceTestPassed = 0x00;
    // Output-port bit 0 is the CPU reset line, active low: writing it 0 resets the machine.
    private const byte OutputPortResetHigh = 0x01;

    private readonly Lock _lock = new();
    private readonly Action _reset;
    private byte _status = StatusSystemFlag | StatusNotInhibited;
    private byte _commandByte = 0x45; // keyboard interrupt on, translation on, system flag (PC/AT default)
    private byte _pendingCommand;
    private byte? _output;

    /// <param name="reset">Called when the guest resets the machine through the controller.</param>
    public I8042Controller(Action reset) => _reset = reset;

    public void Read(ulong offset, Span<byte> data)
    {
        lock (_lock)
        {
            switch (offset)
            {
                case DataOffset:
                    data[0] = _output ?? 0;
                    _output = null;
                    _status &= unchecked((byte)~StatusOutputFull);
                    break;
                case CommandOffset:
                    data[0] = _status;
                    break;
                default:
                    data[0] = 0xFF; // 0x61-0x63 are not the controller's (0x61 is the PIT's, in KVM)
                    break;
            }
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        bool reset = false;
        lock (_lock)
        {
            byte value = data[0];
            switch (offset)
            {
                case CommandOffset:
                    _status |= StatusCommandLast;
                    reset = Command(value);
                    break;
                case DataOffset:
                    _status &= unchecked((byte)~StatusCommandLast);
                    reset = DataByte(value);
                    break;
            }
        }
        // Outside the lock: the reset stops the VM, which kicks and joins vCPU threads.
        if (reset)
            _reset();
    }

    private bool Command(byte command)
    {
        _pendingCommand = 0;
        switch (command)
        {
            case ReadCommandByte: Respond(_commandByte); break;
            case WriteCommandByte: case WriteOutputPort: _pendingCommand = command; break;
            case SelfTest: Respond(SelfTestPassed); break;
            case TestKeyboard: case TestAux: Respond(InterfaceTestPassed); break;
            case ReadOutputPort: Respond(OutputPortResetHigh); break;
            case PulseResetLine: return true;
            // The enable/disable commands show in the command byte, which Linux reads back to
            // check that they took ("Failed to disable AUX port" otherwise).
            case DisableAux: _commandByte |= CommandByteAuxDisabled; break;
            case EnableAux: _commandByte = (byte)(_commandByte & ~CommandByteAuxDisabled); break;
            case DisableKeyboard: _commandByte |= CommandByteKeyboardDisabled; break;
            case EnableKeyboard: _commandByte = (byte)(_commandByte & ~CommandByteKeyboardDisabled); break;
            // Anything else (password, LED, vendor commands) is ignored, as on a controller without them.
        }
        return false;
    }

    private bool DataByte(byte value)
    {
        byte command = _pendingCommand;
        _pendingCommand = 0;
        switch (command)
        {
            case WriteCommandByte:
                _commandByte = value;
                return false;
            case WriteOutputPort:
                return (value & OutputPortResetHigh) == 0;
            default:
                // A byte for the keyboard itself: there is none, so nothing answers (the driver
                // times out and carries on without a keyboard, as with an unplugged one).
                return false;
        }
    }

    private void Respond(byte value)
    {
        _output = value;
        _status |= StatusOutputFull;
    }
}
