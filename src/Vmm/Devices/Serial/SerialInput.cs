// Host input to the guest's console: bytes from a stream (the vmm process's stdin) offered to the
// 16550's receive FIFO as the guest makes room, so a person can log into a guest on ttyS0. The
// FIFO holds 64 bytes (Uart16550.ReceiveFifoDepth); typing never fills it, a pasted block waits
// for the guest to read. End of input ends the pump; the guest sees nothing of it (a UART has
// no end-of-file).
namespace VSwitch.Vmm.Devices.Serial;

public static class SerialInput
{
    /// <summary>How long to wait for the guest to drain a full FIFO before offering the rest again.</summary>
    private static readonly TimeSpan s_fullFifoWait = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Copies <paramref name="input"/> into the UART until the input ends or
    /// <paramref name="stop"/> is cancelled; returns the bytes delivered.
    /// </summary>
    public static long Pump(Stream input, Uart16550 uart, CancellationToken stop)
    {
        byte[] buffer = new byte[Uart16550.ReceiveFifoDepth];
        long delivered = 0;
        while (!stop.IsCancellationRequested)
        {
            int read;
            try
            {
                read = input.Read(buffer);
            }
            catch (IOException)
            {
                break; // the terminal went away: the console simply has no more input
            }
            if (read == 0)
                break;
            ReadOnlySpan<byte> pending = buffer.AsSpan(0, read);
            while (!pending.IsEmpty && !stop.IsCancellationRequested)
            {
                int taken = uart.Receive(pending);
                pending = pending[taken..];
                delivered += taken;
                if (!pending.IsEmpty)
                    stop.WaitHandle.WaitOne(s_fullFifoWait);
            }
        }
        return delivered;
    }

    /// <summary>Runs <see cref="Pump"/> on a background thread, which never keeps the process alive.</summary>
    public static Thread Start(Stream input, Uart16550 uart, CancellationToken stop)
    {
        var thread = new Thread(() => Pump(input, uart, stop)) { IsBackground = true, Name = "serial input" };
        thread.Start();
        return thread;
    }
}
