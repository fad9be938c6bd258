// The 16550A register model as Linux's 8250 driver uses it (PC16550D datasheet register summary).
using VSwitch.Vmm.Devices.Serial;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Devices;

public class Uart16550Tests
{
    private readonly MemoryStream _output = new();
    private readonly FakeInterruptLine _irq = new();
    private readonly Uart16550 _uart;

    public Uart16550Tests() => _uart = new Uart16550(_output, _irq);

    private byte In(int register)
    {
        Span<byte> data = [0xFF];
        _uart.Read((ulong)register, data);
        return data[0];
    }

    private void Out(int register, byte value) => _uart.Write((ulong)register, [value]);

    [Fact]
    public void Bytes_written_to_thr_reach_the_output_and_the_transmitter_is_always_empty()
    {
        foreach (byte b in "hi\n"u8)
            Out(0, b);
        Assert.Equal("hi\n"u8.ToArray(), _output.ToArray());
        Assert.Equal(0x60, In(5) & 0x60); // LSR THRE | TEMT
        Assert.Equal(3, _uart.Transmitted);
    }

    [Fact]
    public void Enabling_the_thre_interrupt_raises_it_and_reading_iir_acknowledges_it()
    {
        Out(4, 0x08); // MCR OUT2: the PC gate of the UART's interrupt
        Out(1, 0x02); // IER ETBEI
        Assert.True(_irq.Level);
        Assert.Equal(0x02, In(2) & 0x0F); // IIR: THR empty
        Assert.False(_irq.Level);
        Assert.Equal(0x01, In(2) & 0x0F); // no interrupt pending any more
    }

    [Fact]
    public void Every_byte_written_with_thre_enabled_is_a_new_rising_edge()
    {
        Out(4, 0x08);
        Out(1, 0x02);
        int before = _irq.RisingEdges;
        Out(0, (byte)'a');
        Out(0, (byte)'b');
        Assert.Equal(before + 2, _irq.RisingEdges);
        Assert.True(_irq.Level);
    }

    [Fact]
    public void Without_out2_the_interrupt_stays_off_the_bus()
    {
        Out(4, 0x00);
        Out(1, 0x02);
        Assert.False(_irq.Level);
        Assert.Equal(0x02, In(2) & 0x0F); // still pending in IIR
    }

    [Fact]
    public void Dlab_switches_offsets_0_and_1_to_the_divisor_latch()
    {
        Out(1, 0x05);
        Out(3, 0x83);     // DLAB | 8N1
        Out(0, 0x01);     // DLL
        Out(1, 0x00);     // DLM
        Assert.Equal(0x01, In(0));
        Assert.Equal(0x00, In(1));
        Out(3, 0x03);
        Assert.Equal(0x05, In(1));     // IER untouched by the divisor writes
        Assert.Empty(_output.ToArray()); // the DLL write was not a character
    }

    [Fact]
    public void Fifo_enable_shows_in_iir_bits_6_and_7_as_a_16550a()
    {
        Assert.Equal(0x00, In(2) & 0xC0);
        Out(2, 0x01);
        Assert.Equal(0xC0, In(2) & 0xC0);
    }

    [Fact]
    public void Loopback_wires_mcr_to_msr_as_the_8250_probe_expects()
    {
        Out(4, 0x1A); // LOOP | OUT2 | RTS
        Assert.Equal(0x90, In(6) & 0xF0); // DCD | CTS
        Out(4, 0x1F);
        Assert.Equal(0xF0, In(6) & 0xF0);
        Out(0, 0x42); // looped back to the receiver, not the output
        Assert.Empty(_output.ToArray());
        Assert.Equal(0x01, In(5) & 0x01);
        Assert.Equal(0x42, In(0));
    }

    [Fact]
    public void Input_is_received_with_data_ready_and_an_rda_interrupt()
    {
        Out(4, 0x08);
        Out(1, 0x01); // ERBFI
        Assert.Equal(2, _uart.Receive("ok"u8));
        Assert.True(_irq.Level);
        Assert.Equal(0x04, In(2) & 0x0F);
        Assert.Equal((byte)'o', In(0));
        Assert.Equal((byte)'k', In(0));
        Assert.Equal(0x00, In(5) & 0x01);
        Assert.False(_irq.Level);
    }

    [Fact]
    public void The_receive_fifo_takes_at_most_its_depth()
    {
        Assert.Equal(Uart16550.ReceiveFifoDepth, _uart.Receive(new byte[100]));
    }

    [Fact]
    public void Console_input_longer_than_the_fifo_reaches_the_guest_whole_as_it_reads()
    {
        byte[] typed = [.. Enumerable.Range(0, 1000).Select(i => (byte)('a' + i % 26))];
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Thread pump = SerialInput.Start(new MemoryStream(typed), _uart, stop.Token);
        var received = new List<byte>();
        while (received.Count < typed.Length && !stop.IsCancellationRequested)
        {
            if ((In(5) & 0x01) != 0) // LSR data ready
                received.Add(In(0));
        }
        Assert.True(pump.Join(TimeSpan.FromSeconds(10)), "the pump did not end at the end of its input");
        Assert.Equal(typed, received);
    }

    [Fact]
    public void Scratch_holds_what_was_written()
    {
        Out(7, 0xA5);
        Assert.Equal(0xA5, In(7));
    }
}
