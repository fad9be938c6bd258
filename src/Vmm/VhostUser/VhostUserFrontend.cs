// The VMM's side of vhost-user (QEMU docs/interop/vhost-user.rst): the VMM listens on the VM's
// socket and the backend (vswitchd, a vhost port in client mode; or testpmd's
// net_vhost,client=1) connects, so a backend restart heals by itself: the next connection gets
// the same rings again. Per connection:
//   GET_FEATURES, GET_PROTOCOL_FEATURES / SET_PROTOCOL_FEATURES (MQ, REPLY_ACK), SET_OWNER;
// and once the guest's driver has set DRIVER_OK (Start), or at once if it already has:
//   SET_FEATURES, SET_MEM_TABLE (the memfd, one fd per region), then per ring SET_VRING_NUM,
//   SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ENABLE.
// SET_VRING_BASE is the used index read from guest memory: a backend that died with chains taken
// but not returned leaves them after used.idx, so the next one takes them again and none is lost
// or returned twice. A backend killed after returning chains but before signalling the ring's
// call leaves the guest waiting for an interrupt that never comes: a transmit queue its driver
// stopped when the ring filled stays stopped, and a receive ring it did not refill stays empty,
// so the next backend drops everything for it. Each reconnect therefore signals every ring's
// call once; a guest with nothing new used sees a spurious interrupt and ignores it (virtio 1.2
// section 2.7.7: the driver checks the used ring). Every reply is checked (REPLY_ACK when the backend offers it); a backend
// that answers out of turn or refuses a step is disconnected and the link reported down.
// Threads: one listens and watches the connection; Start/Stop/SetQueuePairs come from vCPU
// threads (the device's control path). One lock orders everything said on the socket. Link
// changes go out in order through a channel read on the thread pool, never under that lock: the
// device's SetLink takes the transport's lock, which a vCPU thread may hold while it waits for
// this one (DRIVER_OK -> Start).
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Threading.Channels;
using System.Runtime.InteropServices;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Interop;

namespace VSwitch.Vmm.VhostUser;

/// <summary>One ring as the backend gets it: its layout, kick and call eventfds, and whether it is enabled.</summary>
public sealed record VhostVring(QueueConfig Config, EventFd Kick, EventFd Call);

public sealed class VhostUserFrontend : IDisposable
{
    /// <summary>How long a backend may take to answer one request before it is dropped.</summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long to wait before accepting a backend again after one failed the handshake.</summary>
    public static readonly TimeSpan RefusedBackendPause = TimeSpan.FromSeconds(1);

    private readonly string _path;
    private readonly GuestMemory _memory;
    private readonly Action<string>? _log;
    private readonly Channel<bool> _linkChanges = Channel.CreateUnbounded<bool>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _linkNotifier;
    private readonly Socket _listener;
    private readonly Thread _thread;
    private readonly Lock _lock = new();
    private Socket? _connection;
    private ulong _backendFeatures;
    private bool _replyAck;
    private bool _linkUp;
    private volatile bool _disposed;

    // What the guest's driver asked for: null while the device does not run.
    private ulong _features;
    private IReadOnlyList<VhostVring?>? _vrings;
    private int _enabledPairs;
    private bool _vringsServed; // a backend had these rings: the next one may owe the guest an interrupt

    /// <param name="linkChanged">Called with true once a backend serves the rings, false when it goes.</param>
    public VhostUserFrontend(string socketPath, GuestMemory memory, Action<bool>? linkChanged = null, Action<string>? log = null)
    {
        _path = socketPath;
        _memory = memory;
        _log = log;
        _linkNotifier = Task.Run(async () =>
        {
            await foreach (bool up in _linkChanges.Reader.ReadAllAsync())
                linkChanged?.Invoke(up);
        });
        _listener = Listen(socketPath);
        _thread = new Thread(AcceptLoop) { IsBackground = true, Name = $"vhost-user {Path.GetFileName(socketPath)}" };
        _thread.Start();
    }

    /// <summary>Connections accepted so far (a reconnecting backend adds one each time).</summary>
    public int Connections { get; private set; }

    /// <summary>
    /// The guest's driver set DRIVER_OK: hand these rings to the backend now, or when one connects.
    /// <paramref name="vrings"/> has an entry per ring (null: the driver left it not ready).
    /// </summary>
    public void Start(ulong features, IReadOnlyList<VhostVring?> vrings, int enabledPairs)
    {
        lock (_lock)
        {
            _features = features;
            _vrings = vrings;
            _enabledPairs = enabledPairs;
            _vringsServed = false;
            if (_connection is not null)
                Configure();
        }
    }

    /// <summary>The guest reset the device: the backend stops using the rings (GET_VRING_BASE on each).</summary>
    public void Stop()
    {
        lock (_lock)
        {
            IReadOnlyList<VhostVring?>? vrings = _vrings;
            _vrings = null;
            if (_connection is null || vrings is null)
                return;
            for (int i = 0; i < vrings.Count; i++)
            {
                if (vrings[i] is not null && !Request(VhostUserMessage.VringState(VhostUserRequest.GetVringBase, (uint)i, 0), [], VhostUserRequest.GetVringBase, 8, out _))
                    return;
            }
            SetLink(false);
        }
    }

    /// <summary>VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET: enable the first <paramref name="pairs"/> pairs' rings, disable the rest.</summary>
    public bool SetQueuePairs(int pairs)
    {
        lock (_lock)
        {
            _enabledPairs = pairs;
            return _connection is null || _vrings is null || EnableRings();
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _listener.Dispose();
        lock (_lock)
            Disconnect(null);
        _thread.Join(TimeSpan.FromSeconds(5));
        _linkChanges.Writer.TryComplete();
        _linkNotifier.Wait(TimeSpan.FromSeconds(5));
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
    }

    private static Socket Listen(string path)
    {
        // A socket file left by a VMM that was killed is replaced; one another process listens on is not.
        if (File.Exists(path))
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"{path}: another process listens on this vhost-user socket");
            }
            catch (SocketException)
            {
                File.Delete(path);
            }
        }
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    private void AcceptLoop()
    {
        while (!_disposed)
        {
            Socket connection;
            try
            {
                connection = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return; // disposed
            }
            connection.ReceiveTimeout = (int)ReplyTimeout.TotalMilliseconds;
            bool ready;
            lock (_lock)
            {
                _connection = connection;
                Connections++;
                ready = Handshake() && (_vrings is null || Configure());
            }
            if (ready)
                WatchUntilClosed(connection);
            else
                Thread.Sleep(RefusedBackendPause); // a client backend reconnects at once: do not spin with it
        }
    }

    // The backend never speaks first (no BACKEND_REQ channel is negotiated), so the socket turns
    // readable outside a request only when it closes or misbehaves: either way it is dropped.
    // The wait has no timeout: this thread sleeps while packets flow (Disconnect's shutdown wakes
    // it), so the VMM's only threads that run per packet are none (docs/vmm.md).
    private void WatchUntilClosed(Socket connection)
    {
        while (!_disposed)
        {
            bool readable;
            try
            {
                readable = connection.Poll(-1, SelectMode.SelectRead);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                readable = true;
            }
            if (!readable)
                continue;
            lock (_lock)
            {
                if (_connection != connection)
                    return; // dropped while this thread waited
                // A reply a vCPU thread was reading is gone by now; anything left was unasked for.
                if (connection.Poll(TimeSpan.Zero, SelectMode.SelectRead))
                {
                    Disconnect(connection.Available == 0 ? "the backend closed the connection" : "the backend sent a message nobody asked for");
                    return;
                }
            }
        }
    }

    private bool Handshake()
    {
        if (!Request(VhostUserMessage.NoPayload(VhostUserRequest.GetFeatures), [], VhostUserRequest.GetFeatures, 8, out ulong features))
            return false;
        _backendFeatures = features;
        _replyAck = false;
        if ((features & VhostUserMessage.ProtocolFeaturesBit) != 0)
        {
            if (!Request(VhostUserMessage.NoPayload(VhostUserRequest.GetProtocolFeatures), [], VhostUserRequest.GetProtocolFeatures, 8, out ulong protocol))
                return false;
            ulong wanted = protocol & (VhostUserMessage.ProtocolMultiqueue | VhostUserMessage.ProtocolReplyAck);
            if (!Send(VhostUserMessage.U64(VhostUserRequest.SetProtocolFeatures, wanted), []))
                return false;
            _replyAck = (wanted & VhostUserMessage.ProtocolReplyAck) != 0;
        }
        return Command(VhostUserMessage.NoPayload(VhostUserRequest.SetOwner), []);
    }

    private bool Configure()
    {
        IReadOnlyList<VhostVring?> vrings = _vrings!;
        ulong missing = _features & ~_backendFeatures;
        if (missing != 0)
        {
            Disconnect($"the backend lacks feature bits 0x{missing:x} the guest's driver negotiated");
            return false;
        }
        ulong features = _features | (_backendFeatures & VhostUserMessage.ProtocolFeaturesBit);
        if (!Command(VhostUserMessage.U64(VhostUserRequest.SetFeatures, features), []) || !SendMemoryTable())
            return false;
        for (int i = 0; i < vrings.Count; i++)
        {
            if (vrings[i] is not VhostVring vring)
                continue;
            QueueConfig config = vring.Config;
            ushort usedIndex = BinaryPrimitives.ReadUInt16LittleEndian(_memory.GetSpan(config.UsedRing + 2, 2));
            if (!_memory.TryGetHostAddress(config.DescriptorTable, config.DescriptorTableBytes, out ulong descriptors)
                || !_memory.TryGetHostAddress(config.UsedRing, config.UsedRingBytes, out ulong used)
                || !_memory.TryGetHostAddress(config.AvailableRing, config.AvailableRingBytes, out ulong available))
            {
                Disconnect($"ring {i} is not inside guest RAM"); // QueueConfig.Validate ran first: a VMM bug
                return false;
            }
            if (!Command(VhostUserMessage.VringState(VhostUserRequest.SetVringNum, (uint)i, config.Size), [])
                || !Command(VhostUserMessage.VringState(VhostUserRequest.SetVringBase, (uint)i, usedIndex), [])
                || !Command(VhostUserMessage.VringAddress((uint)i, descriptors, used, available), [])
                || !Command(VhostUserMessage.U64(VhostUserRequest.SetVringKick, (uint)i), [vring.Kick.Handle])
                || !Command(VhostUserMessage.U64(VhostUserRequest.SetVringCall, (uint)i), [vring.Call.Handle]))
                return false;
        }
        if (!EnableRings())
            return false;
        if (_vringsServed)
        {
            foreach (VhostVring? vring in vrings)
                vring?.Call.Signal();
        }
        _vringsServed = true;
        SetLink(true);
        _log?.Invoke($"vhost-user {_path}: backend serves {vrings.Count(v => v is not null)} rings, {_enabledPairs} queue pairs enabled");
        return true;
    }

    private bool SendMemoryTable()
    {
        ReadOnlySpan<GuestMemoryRegion> regions = _memory.Regions;
        var table = new VhostUserMessage.MemoryRegion[regions.Length];
        var fds = new SafeHandle[regions.Length];
        for (int i = 0; i < regions.Length; i++)
        {
            table[i] = new VhostUserMessage.MemoryRegion(regions[i].GuestAddress, regions[i].Size, _memory.HostAddress(regions[i]), regions[i].FileOffset);
            fds[i] = _memory.FileDescriptor;
        }
        return Command(VhostUserMessage.MemoryTable(table), fds);
    }

    private bool EnableRings()
    {
        // Without protocol features there is no SET_VRING_ENABLE: rings run once they have a kick.
        if ((_backendFeatures & VhostUserMessage.ProtocolFeaturesBit) == 0)
            return true;
        IReadOnlyList<VhostVring?> vrings = _vrings!;
        for (int i = 0; i < vrings.Count; i++)
        {
            if (vrings[i] is null)
                continue;
            bool enable = i / 2 < _enabledPairs;
            if (!Command(VhostUserMessage.VringState(VhostUserRequest.SetVringEnable, (uint)i, enable ? 1u : 0u), []))
                return false;
        }
        return true;
    }

    // A request without a reply of its own: with REPLY_ACK the backend still confirms it.
    private bool Command(byte[] message, ReadOnlySpan<SafeHandle> fds)
    {
        if (!_replyAck)
            return Send(message, fds);
        VhostUserMessage.NeedReply(message);
        var request = (VhostUserRequest)BinaryPrimitives.ReadUInt32LittleEndian(message);
        if (!Request(message, fds, request, 8, out ulong status))
            return false;
        if (status == 0)
            return true;
        Disconnect($"the backend refused {request} (status {status})");
        return false;
    }

    private bool Request(byte[] message, ReadOnlySpan<SafeHandle> fds, VhostUserRequest request, int replySize, out ulong value)
    {
        value = 0;
        if (!Send(message, fds))
            return false;
        Span<byte> reply = stackalloc byte[VhostUserMessage.HeaderSize + 8];
        reply = reply[..(VhostUserMessage.HeaderSize + replySize)];
        try
        {
            for (int got = 0; got < reply.Length;)
            {
                int n = _connection!.Receive(reply[got..]);
                if (n == 0)
                {
                    Disconnect($"the backend closed the connection before answering {request}");
                    return false;
                }
                got += n;
            }
        }
        catch (SocketException e)
        {
            Disconnect($"no answer to {request}: {e.Message}");
            return false;
        }
        if (VhostUserMessage.CheckReply(reply, request, replySize) is string wrong)
        {
            Disconnect(wrong);
            return false;
        }
        value = replySize == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(reply[VhostUserMessage.HeaderSize..]) : 0;
        return true;
    }

    private bool Send(byte[] message, ReadOnlySpan<SafeHandle> fds)
    {
        int errno = Interop.SendWithFds(_connection!, message, fds);
        if (errno == 0)
            return true;
        Disconnect($"sending {(VhostUserRequest)BinaryPrimitives.ReadUInt32LittleEndian(message)} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        return false;
    }

    private void Disconnect(string? why)
    {
        if (_connection is null)
            return;
        if (why is not null)
            _log?.Invoke($"vhost-user {_path}: {why}; waiting for the backend to connect again");
        // Closing alone does not end a poll() another thread sits in; a shutdown makes it readable.
        try
        {
            _connection.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // already closed by the backend
        }
        _connection.Dispose();
        _connection = null;
        SetLink(false);
    }

    private void SetLink(bool up)
    {
        if (_linkUp == up)
            return;
        _linkUp = up;
        _linkChanges.Writer.TryWrite(up);
    }
}
