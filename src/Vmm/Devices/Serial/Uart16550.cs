// A 16550A UART as Linux's 8250 driver (drivers/tty/serial/8250/8250_port.c) probes and drives
// it. Register model: National Semiconductor / TI PC16550D datasheet, table "Register Summary"
// (offsets 0-7, DLAB in LCR bit 7 switching offsets 0-1 to the divisor latch), sections on the
// interrupt identification priorities and the modem control loopback mode.
//
// Transmission is instant: a byte written to THR goes to the output at once, so LSR always
// reports THRE|TEMT. The THRE interrupt still matters: the tty layer sends the next chunk only
// from the interrupt (or from a slow backup timer when the port looks broken), so the guest's
// console stalls without it. The interrupt line follows QEMU's model (hw/char/serial.c): its
// level is "an interrupt is pending", so every new THRE after a THR write is a fresh 0 -> 1 edge
// for the edge-triggered ISA input.
namespace VSwitch.Vmm.Devices.Serial;

using VSwitch.Vmm.Devices.Bus;

public sealed class Uart16550 : IBusDevice
{
    /// <summary>COM1's I/O base and ISA IRQ (the PC/AT assignment Linux's 8250 assumes for ttyS0).</summary>
    public const ushort Com1Port = 0x3f8;
    public const uint Com1Irq = 4;
    public const int RegisterCount = 8;

    // Register offsets (PC16550D register summary).
    private const int Data = 0;          // RBR (read) / THR (write); DLL when DLAB
    private const int InterruptEnable = 1; // IER; DLM when DLAB
    private const int InterruptId = 2;   // IIR (read) / FCR (write)
    private const int LineControl = 3;
    private const int ModemControl = 4;
    private const int LineStatus = 5;
    private const int ModemStatus = 6;
    private const int Scratch = 7;

    private const byte LcrDivisorLatchAccess = 0x80;

    private const byte IerReceivedData = 0x01;
    private const byte IerTransmitterEmpty = 0x02;
    private const byte IerValidBits = 0x0F;

    private const byte IirNoInterrupt = 0x01;
    private const byte IirTransmitterEmpty = 0x02;
    private const byte IirReceivedData = 0x04;
    // IIR bits 6-7 read 11 when the FIFOs are enabled; the 8250 driver tells a 16550A by them.
    private const byte IirFifoEnabled = 0xC0;
    private const byte FcrFifoEnable = 0x01;

    private const byte LsrDataReady = 0x01;
    private const byte LsrTransmitterHoldingEmpty = 0x20;
    private const byte LsrTransmitterEmpty = 0x40;

    private const byte McrDtr = 0x01, McrRts = 0x02, McrOut1 = 0x04, McrOut2 = 0x08, McrLoop = 0x10;
    private const byte McrValidBits = 0x1F;
    private const byte MsrCts = 0x10, MsrDsr = 0x20, MsrRi = 0x40, MsrDcd = 0x80;

    /// <summary>Bytes of input held for the guest: the 16550A's receive FIFO depth.</summary>
    public const int ReceiveFifoDepth = 64;

    private readonly Lock _lock = new();
    private readonly Stream _output;
    private readonly IInterruptLine _irq;
    private readonly Queue<byte> _receive = new();

    private byte _interruptEnable;
    private byte _lineControl = 0x03; // 8N1, what firmware leaves behind
    private byte _modemControl = McrOut2;
    private byte _scratch;
    private byte _fifoControl;
    private ushort _divisor = 12;     // 9600 baud
    private bool _transmitterEmptyPending;
    private bool _irqLevel;
    private long _transmitted;
    private long _received;

    public Uart16550(Stream output, IInterruptLine irq)
    {
        _output = output;
        _irq = irq;
    }

    /// <summary>Bytes the guest has sent.</summary>
    public long Transmitted => Interlocked.Read(ref _transmitted);

    /// <summary>Bytes of host input the guest's receive FIFO took.</summary>
    public long Received => Interlocked.Read(ref _received);

    public void Read(ulong offset, Span<byte> data)
    {
        // Every register is one byte wide; a wider access reads the first and floats the rest.
        byte value;
        lock (_lock)
        {
            value = ReadRegister((int)offset);
            UpdateInterrupt();
        }
        data[0] = value;
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            WriteRegister((int)offset, data[0]);
            UpdateInterrupt();
        }
    }

    /// <summary>
    /// Offers host input to the guest; returns how many bytes fit the receive FIFO (the rest is
    /// for a later call, once the guest has read some).
    /// </summary>
    public int Receive(ReadOnlySpan<byte> input)
    {
        lock (_lock)
        {
            int taken = 0;
            while (taken < input.Length && _receive.Count < ReceiveFifoDepth)
                _receive.Enqueue(input[taken++]);
            _received += taken;
            UpdateInterrupt();
            return taken;
        }
    }

    /// <summary>Pushes buffered output to the stream (at a newline it happens by itself).</summary>
    public void Flush()
    {
        lock (_lock)
            _output.Flush();
    }

    private bool DivisorLatch => (_lineControl & LcrDivisorLatchAccess) != 0;
    private bool Loopback => (_modemControl & McrLoop) != 0;

    private byte ReadRegister(int offset)
    {
        switch (offset)
        {
            case Data when DivisorLatch:
                return (byte)_divisor;
            case Data:
                return _receive.Count > 0 ? _receive.Dequeue() : (byte)0;
            case InterruptEnable when DivisorLatch:
                return (byte)(_divisor >> 8);
            case InterruptEnable:
                return _interruptEnable;
            case InterruptId:
            {
                byte id = PendingInterrupt();
                // Reading IIR while it reports THRE acknowledges THRE (datasheet, interrupt reset control).
                if (id == IirTransmitterEmpty)
                    _transmitterEmptyPending = false;
                return (byte)(id | ((_fifoControl & FcrFifoEnable) != 0 ? IirFifoEnabled : 0));
            }
            case LineControl:
                return _lineControl;
            case ModemControl:
                return _modemControl;
            case LineStatus:
                return (byte)(LsrTransmitterHoldingEmpty | LsrTransmitterEmpty | (_receive.Count > 0 ? LsrDataReady : 0));
            case ModemStatus:
                if (Loopback)
                {
                    // Loopback wires the MCR outputs to the MSR inputs (datasheet, MCR bit 4):
                    // DTR -> DSR, RTS -> CTS, OUT1 -> RI, OUT2 -> DCD. The 8250 driver's probe checks it.
                    int mcr = _modemControl;
                    return (byte)(((mcr & McrDtr) != 0 ? MsrDsr : 0) | ((mcr & McrRts) != 0 ? MsrCts : 0)
                                  | ((mcr & McrOut1) != 0 ? MsrRi : 0) | ((mcr & McrOut2) != 0 ? MsrDcd : 0));
                }
                // A terminal is always there: carrier detect, data set ready, clear to send.
                return MsrDcd | MsrDsr | MsrCts;
            case Scratch:
                return _scratch;
            default:
                return 0xFF;
        }
    }

    private void WriteRegister(int offset, byte value)
    {
        switch (offset)
        {
            case Data when DivisorLatch:
                _divisor = (ushort)((_divisor & 0xFF00) | value);
                break;
            case Data:
                if (Loopback)
                {
                    // Loopback sends the byte back to the receiver instead of the line.
                    if (_receive.Count < ReceiveFifoDepth)
                        _receive.Enqueue(value);
                }
                else
                {
                    _output.WriteByte(value);
                    if (value == (byte)'\n')
                        _output.Flush();
                    _transmitted++;
                }
                // THR was filled and drained at once: THRE falls and rises again, a new interrupt.
                _transmitterEmptyPending = false;
                UpdateInterrupt();
                _transmitterEmptyPending = true;
                break;
            case InterruptEnable when DivisorLatch:
                _divisor = (ushort)((_divisor & 0x00FF) | (value << 8));
                break;
            case InterruptEnable:
            {
                byte enabled = (byte)(value & IerValidBits);
                // Enabling ETBEI while THR is empty raises THRE at once, as the 16550 does (and
                // as the 8250 driver's THRE test at startup expects; otherwise it marks the port
                // UART_BUG_THRE and falls back to polling from a timer).
                if ((enabled & IerTransmitterEmpty) != 0 && (_interruptEnable & IerTransmitterEmpty) == 0)
                    _transmitterEmptyPending = true;
                _interruptEnable = enabled;
                break;
            }
            case InterruptId: // FCR
                _fifoControl = value;
                if ((value & 0x02) != 0) // clear receive FIFO
                    _receive.Clear();
                break;
            case LineControl:
                _lineControl = value;
                break;
            case ModemControl:
                _modemControl = (byte)(value & McrValidBits);
                break;
            case Scratch:
                _scratch = value;
                break;
            // LSR and MSR are read-only; writes (factory test on real parts) are ignored.
        }
    }

    // Priority order of the datasheet's IIR table: line status (never raised here), received
    // data, THR empty, modem status (never raised here).
    private byte PendingInterrupt()
    {
        if ((_interruptEnable & IerReceivedData) != 0 && _receive.Count > 0)
            return IirReceivedData;
        if ((_interruptEnable & IerTransmitterEmpty) != 0 && _transmitterEmptyPending)
            return IirTransmitterEmpty;
        return IirNoInterrupt;
    }

    private void UpdateInterrupt()
    {
        // OUT2 gates the UART's interrupt onto the ISA bus on PC hardware; Linux sets it.
        bool level = PendingInterrupt() != IirNoInterrupt && (_modemControl & McrOut2) != 0;
        if (level != _irqLevel)
        {
            _irqLevel = level;
            _irq.Set(level);
        }
    }
}
