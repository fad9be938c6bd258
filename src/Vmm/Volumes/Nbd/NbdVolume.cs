// A network volume: an export of an NBD server (Debian's nbd-server, or any other), reached over
// TCP or a Unix socket. Requests go one at a time on one connection. When the connection is lost
// (the server restarted, the network dropped), the request in flight is not failed: the volume
// reconnects, with a growing pause, and sends it again; reads, writes, flushes and zeroing are
// all idempotent, so sending one twice is harmless. Only when the server stays away longer than
// the reconnect limit does the request fail, and the guest gets VIRTIO_BLK_S_IOERR; the next
// request tries again. Whatever a server answers with an error is that request's failure at once.
//
// A flush reaches the server as NBD_CMD_FLUSH (nbd-server then calls fdatasync); a server that
// does not offer flush keeps nothing in a cache, by the protocol, so there is nothing to send.
namespace VSwitch.Vmm.Volumes.Nbd;

public sealed class NbdVolume : IBlockVolume
{
    /// <summary>nbd-server refuses requests larger than 32 MiB; 1 MiB pieces keep every request far below any server's limit.</summary>
    private const int MaxRequestBytes = 1 << 20;
    private static readonly TimeSpan s_firstPause = TimeSpan.FromMilliseconds(50), s_longestPause = TimeSpan.FromSeconds(1);

    private readonly NbdAddress _address;
    private readonly TimeSpan _reconnectLimit, _ioTimeout;
    private readonly Action<string> _log;
    private readonly Lock _gate = new();
    private readonly IDisposable? _lease;
    private NbdConnection? _connection;
    private long _reconnects, _retries;

    private NbdVolume(NbdAddress address, NbdConnection connection, string id, bool readOnly, TimeSpan reconnectLimit, TimeSpan ioTimeout, Action<string> log, IDisposable? lease)
    {
        _lease = lease;
        _address = address;
        _connection = connection;
        Id = id;
        SizeBytes = connection.SizeBytes;
        ReadOnly = readOnly;
        _reconnectLimit = reconnectLimit;
        _ioTimeout = ioTimeout;
        _log = log;
    }

    public string Id { get; }
    public long SizeBytes { get; }
    public bool ReadOnly { get; }

    /// <summary>Connections made again after one was lost.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>Requests sent again on a new connection after theirs was lost.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>
    /// Connects to <paramref name="address"/> and negotiates its export, once: a VM does not boot
    /// on a volume that is not there. Throws <see cref="IOException"/> saying why. <paramref name="lease"/>
    /// (a pool's hold on it, VolumePool.OpenDisk) is released with the volume.
    /// </summary>
    public static NbdVolume Open(NbdAddress address, string id, bool readOnly, TimeSpan reconnectLimit, Action<string> log, TimeSpan? ioTimeout = null,
        IDisposable? lease = null)
    {
        TimeSpan timeout = ioTimeout ?? TimeSpan.FromSeconds(30);
        NbdConnection connection = NbdConnection.Open(address, timeout);
        if (connection.SizeBytes == 0 || connection.SizeBytes % 512 != 0)
        {
            long size = connection.SizeBytes;
            connection.Dispose();
            throw new IOException($"{address} exports {size} bytes; a volume is a whole number of 512-byte sectors, at least one");
        }
        if (!readOnly && connection.ReadOnly)
        {
            connection.Dispose();
            throw new IOException($"{address} exports '{address.Export}' read-only; attach it with read_only: true");
        }
        return new NbdVolume(address, connection, id, readOnly, reconnectLimit, timeout, log, lease);
    }

    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int piece = Math.Min(destination.Length, MaxRequestBytes);
            Send(NbdCommand.Read, 0, offset, piece, default, destination[..piece]);
            destination = destination[piece..];
            offset += piece;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            int piece = Math.Min(source.Length, MaxRequestBytes);
            Send(NbdCommand.Write, 0, offset, piece, source[..piece], default);
            source = source[piece..];
            offset += piece;
        }
    }

    public void Flush()
    {
        if (Current().CanFlush)
            Send(NbdCommand.Flush, 0, 0, 0, default, default);
    }

    public void Zero(long offset, long length, bool release)
    {
        if (!Current().CanWriteZeroes)
        {
            this.WriteZeros(offset, length);
            return;
        }
        // NBD_CMD_WRITE_ZEROES without NO_HOLE lets the server free the range (a discard that
        // still reads as zeros); with it, the space stays allocated.
        SendInPieces(NbdCommand.WriteZeroes, release ? (ushort)0 : NbdProtocol.CommandFlagNoHole, offset, length);
    }

    /// <summary>NBD_CMD_TRIM where the server offers it (nbd-server then punches a hole in its file); else nothing, which a discard allows.</summary>
    public void Discard(long offset, long length)
    {
        if (Current().CanTrim)
            SendInPieces(NbdCommand.Trim, 0, offset, length);
    }

    /// <summary>A request that carries no data, over a range longer than one request may cover.</summary>
    private void SendInPieces(NbdCommand command, ushort flags, long offset, long length)
    {
        for (long done = 0; done < length;)
        {
            int piece = (int)Math.Min(length - done, MaxRequestBytes);
            Send(command, flags, offset + done, piece, default, default);
            done += piece;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _connection?.Dispose();
            _connection = null;
        }
    }

    private NbdConnection Current()
    {
        lock (_gate)
            return _connection ?? Reconnect(DateTime.UtcNow + _reconnectLimit, "no connection");
    }

    private void Send(NbdCommand command, ushort flags, long offset, int length, ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        lock (_gate)
        {
            DateTime deadline = DateTime.UtcNow + _reconnectLimit;
            bool retried = false;
            while (true)
            {
                NbdConnection connection = _connection ?? Reconnect(deadline, "no connection");
                try
                {
                    connection.Request(command, flags, offset, (uint)length, payload, destination);
                    return;
                }
                catch (NbdConnectionLostException e)
                {
                    connection.Dispose();
                    _connection = null;
                    if (!retried)
                        Interlocked.Increment(ref _retries);
                    retried = true;
                    Reconnect(deadline, e.Message);
                }
            }
        }
    }

    /// <summary>Connects again, pausing longer after each failure, until <paramref name="deadline"/>; then the request fails.</summary>
    private NbdConnection Reconnect(DateTime deadline, string why)
    {
        _log($"volume {Id}: connection to {_address} lost ({why}); reconnecting for up to {_reconnectLimit.TotalSeconds:F0} s");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan pause = s_firstPause;
        while (true)
        {
            try
            {
                NbdConnection connection = NbdConnection.Open(_address, _ioTimeout);
                if (connection.SizeBytes != SizeBytes)
                {
                    long size = connection.SizeBytes;
                    connection.Dispose();
                    throw new NbdRequestFailedException($"volume {Id}: {_address} came back with {size} bytes, not {SizeBytes}: refusing it");
                }
                _connection = connection;
                Interlocked.Increment(ref _reconnects);
                _log($"volume {Id}: reconnected to {_address} after {clock.ElapsedMilliseconds} ms");
                return connection;
            }
            catch (NbdConnectionLostException e)
            {
                if (DateTime.UtcNow + pause > deadline)
                    throw new IOException($"volume {Id}: {_address} unreachable for {clock.Elapsed.TotalSeconds:F1} s: {e.Message}", e);
                Thread.Sleep(pause);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, s_longestPause.Ticks));
            }
        }
    }
}
