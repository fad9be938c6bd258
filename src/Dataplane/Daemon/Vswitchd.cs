// The vswitchd process: brings up EAL, the mbuf pool and every configured port, starts the
// poll-mode workers, publishes table snapshots, and serves the control socket. In offline mode
// (pcap regression) it runs until every capture has been read and every output flushed.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Dataplane.Config;
using VSwitch.Common.Control;
using VSwitch.Dataplane.Counters;
using VSwitch.Dataplane.Flows;
using VSwitch.Dataplane.Interop;
using VSwitch.Dataplane.Metrics;
using VSwitch.Dataplane.Overlay.Neighbours;
using VSwitch.Dataplane.Ports;
using VSwitch.Dataplane.Vhost;
using VSwitch.Dataplane.Workers;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;
using static VSwitch.Dataplane.Interop.Interop;

namespace VSwitch.Dataplane.Daemon;

public enum DaemonState { Starting, Running, Drained, Stopping }

public sealed partial class Vswitchd : ITableSource
{
    // A worker that sleeps when idle finishes a loop within idle_sleep_us; a table swap waits at
    // most this long for every worker to have started a loop on the new tables.
    private static readonly TimeSpan QuiesceTimeout = TimeSpan.FromSeconds(5);
    // Offline mode gives up when no port has received anything new for this long.
    private static readonly TimeSpan DrainStallTimeout = TimeSpan.FromSeconds(30);

    private readonly DaemonConfig _config;
    private readonly bool _offline;
    private readonly int _workerCount;
    private readonly Dictionary<string, ushort> _portIds = new(StringComparer.Ordinal);
    /// <summary>The vhost-user ports among _portIds, by name; their ids start at SwitchTables.MaxEthPorts.</summary>
    private readonly Dictionary<string, VhostPort> _vhostPorts = new(StringComparer.Ordinal);
    private VhostPorts? _vhost;
    private readonly Dictionary<string, EthStats> _stoppedStats = new(StringComparer.Ordinal);
    /// <summary>
    /// Each port as it was attached: the workers' counts for its queue slots (remove-port frees a
    /// port id for the next add-port, whose port starts at zero), and the frames an ethdev port
    /// held when it was started, thrown away unswitched (EthPort.Start).
    /// </summary>
    private readonly Dictionary<string, (QueueCounts[] Counts, ulong[] DropReasons, int Discarded)> _atAttach = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changes = new(1, 1);
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private SwitchTables _tables = SwitchTables.Empty;
    private PollWorker[] _workers = [];
    private NeighbourMailbox[] _mailboxes = [];
    private NeighbourTable? _neighbours;
    private NeighbourResolver? _resolver;
    private ulong _uplinkMac;
    private IntPtr _mempool;
    private long _generation;
    private volatile DaemonState _state = DaemonState.Starting;

    public SwitchTables Tables => Volatile.Read(ref _tables);

    /// <summary>The handler the control socket serves; tests call it directly.</summary>
    internal IControlHandler ControlHandler => ControlOps();

    /// <summary>Held by every change and every read of ports; tests hold it to stand for a change in progress.</summary>
    internal SemaphoreSlim ChangesLock => _changes;

    /// <summary>A daemon that has not started (no EAL, no ports, no workers); tests drive its control handler.</summary>
    internal Vswitchd(DaemonConfig config, bool offline)
    {
        _config = config;
        _offline = offline;
        // One worker in offline mode: frames from several inputs then leave in one fixed order.
        _workerCount = offline ? 1 : config.WorkerCores.Count;
    }

    public static async Task<int> RunAsync(DaemonConfig config, bool offline)
    {
        var daemon = new Vswitchd(config, offline);
        return await daemon.RunAsync();
    }

    private async Task<int> RunAsync()
    {
        Eal.Init(Eal.Arguments(_config));
        _mempool = Eal.CreateMbufPool(_config.Mbufs);
        _vhost = new VhostPorts(_mempool, WaitForWorkers, Log);
        foreach (PortSpec port in _config.Spec.Ports)
            AttachPort(port);
        if (_config.Spec.Overlay is { } overlay)
        {
            _uplinkMac = EthDev.MacAddress(_portIds[overlay.Uplink]);
            // Offline (pcap regression) each next hop is asked for once: a retry a second later
            // would make the output depend on how long the run took.
            _neighbours = new NeighbourTable(overlay, _uptime.Elapsed, _offline ? TimeSpan.MaxValue : null);
        }
        Publish(_config.Spec);

        var compiling = Stopwatch.StartNew();
        int compiled = WorkerPrecompile.Run();
        Log($"compiled {compiled} worker-side methods in {compiling.ElapsedMilliseconds} ms");
        _mailboxes = Enumerable.Range(0, _workerCount).Select(_ => new NeighbourMailbox()).ToArray();
        _workers = _config.WorkerCores.Take(_workerCount)
            .Select((core, i) => new PollWorker(i, core, this, _config.IdleSleepMicroseconds, _mempool, _mailboxes[i],
                _config.Flows.Enabled ? new FlowTable(_config.Flows.TableSize, SwitchTables.MaxTenants, _config.Flows.SampleRate, PollWorker.BurstSize) : null)).ToArray();
        foreach (PollWorker worker in _workers)
            worker.Start();
        if (_neighbours is not null && Tables.Overlay is { } overlayTables)
        {
            _resolver = new NeighbourResolver(_neighbours, _mailboxes, overlayTables.Mac, overlayTables.Vtep, _uptime);
            _resolver.Start();
            Log($"overlay: VTEP {Protocols.Ipv4.Format(overlayTables.Vtep)} on '{overlayTables.Uplink.Name}' ({Protocols.MacAddress.Format(overlayTables.Mac)}), " +
                $"{overlayTables.Hosts.Length} remote host(s), {_neighbours.Count} next hop(s)");
        }
        Log($"{_workers.Length} worker(s) on core(s) {string.Join(',', _workers.Select(w => w.Core))}, {_portIds.Count} port(s)");

        await using ControlServer? control = _config.ControlSocket is null ? null : ControlServer.Start(_config.ControlSocket, ControlOps(), new ControlServerOptions("vswitchd") { Log = Log, Limits = _config.ControlLimits });
        await using MetricsEndpoint? metrics = _config.MetricsListen is { } listen ? MetricsEndpoint.Start(listen.ToEndPoint(), ReadMetricsAsync) : null;
        if (_config.MetricsListen is { } served)
            Log($"metrics: {MetricsEndpoint.Url(served.ToEndPoint())}");
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _state = DaemonState.Running;

        int exitCode = 0;
        if (_offline)
        {
            exitCode = await DrainAsync();
            await _changes.WaitAsync();
            StopWorkers();
            StopPorts();
            _state = DaemonState.Drained;
            _changes.Release();
            if (control is not null && exitCode == 0)
                WaitForShutdown();
        }
        else
        {
            exitCode = WaitForShutdown();
        }

        // Held to the end: a counters request must not read a port that StopPorts is closing.
        await _changes.WaitAsync();
        _state = DaemonState.Stopping;
        StopWorkers();
        Console.Out.WriteLine(CountersReport().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        StopPorts();
        return exitCode;
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        _shutdown.Cancel();
    }

    /// <summary>
    /// Waits for a shutdown request or signal; returns 1 if a worker died meanwhile. A blocking
    /// wait rather than a Task.Delay loop: an idle daemon then allocates nothing, so no garbage
    /// collection ever pauses the workers while nobody talks to the control socket.
    /// </summary>
    private int WaitForShutdown()
    {
        WaitHandle shutdown = _shutdown.Token.WaitHandle;
        while (!shutdown.WaitOne(100))
        {
            foreach (PollWorker worker in _workers)
            {
                if (worker.Fault is not null)
                {
                    Log($"worker {worker.Index} failed; stopping");
                    return 1;
                }
            }
        }
        return 0;
    }

    private async Task<int> DrainAsync()
    {
        var expected = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (PortSpec port in _config.Spec.Ports)
        {
            long? frames = port.VhostUser is null ? PcapInputs.ExpectedFrames(port.Devargs) : null;
            if (frames is null)
            {
                Log($"offline mode: port '{port.Name}' has an endless input (infinite_rx, a live interface or a VM over vhost-user); it can never drain");
                return 2;
            }
            expected[port.Name] = frames.Value;
        }
        long total = expected.Values.Sum();
        Log($"offline: waiting for {total} input frame(s) on {expected.Count} port(s)");

        long lastReceived = -1;
        var sinceProgress = Stopwatch.StartNew();
        while (true)
        {
            long received = 0;
            bool drained = true;
            foreach ((string name, long frames) in expected)
            {
                ulong got = EthDev.Stats(_portIds[name]).Ipackets;
                received += (long)got;
                drained &= (long)got >= frames;
            }
            if (drained)
                break;
            if (received != lastReceived)
            {
                lastReceived = received;
                sinceProgress.Restart();
            }
            else if (sinceProgress.Elapsed > DrainStallTimeout)
            {
                Log($"offline: stalled at {received} of {total} frames for {DrainStallTimeout.TotalSeconds} s");
                return 1;
            }
            if (_workers.Any(w => w.Fault is not null))
                return 1;
            await Task.Delay(5);
        }
        // The frames are received; wait for the loop that received them to have transmitted them.
        WaitForWorkers();
        Log($"offline: drained {total} frame(s)");
        return 0;
    }

    private void AttachPort(PortSpec port)
    {
        int discarded = AttachPortDevice(port);
        WorkerCounters sum = WorkerCounters.Sum([.. _workers.Select(w => w.Counters)]);
        ushort id = _portIds[port.Name];
        _atAttach[port.Name] = (QueueCountsOf(sum, id, port.Queues), DropReasonsOf(sum, id), discarded);
    }

    /// <summary>Starts the port's device; returns the frames it held, thrown away (EthPort.Start).</summary>
    private int AttachPortDevice(PortSpec port)
    {
        if (port.VhostUser is { } vhost)
        {
            ushort vhostId = FreeVhostPortId();
            _vhostPorts[port.Name] = _vhost!.Start(port, vhostId);
            _portIds[port.Name] = vhostId;
            Log($"port '{port.Name}' up as vhost-user {vhost.Mode.ToString().ToLowerInvariant()} on {vhost.Socket}, port {vhostId}, mtu {port.Mtu}, {port.Queues} queue pair(s)");
            return 0;
        }
        ushort id = EthPort.Start(port, _workerCount, _mempool, out int discarded);
        _portIds[port.Name] = id;
        Log($"port '{port.Name}' ({port.DeviceName}) up as DPDK port {id}, role {port.Role.ToString().ToLowerInvariant()}, mtu {port.Mtu}, {port.Queues} queue(s)" +
            (discarded > 0 ? $"; {discarded} frame(s) its sockets took before they were bound to the interface discarded" : ""));
        return discarded;
    }

    /// <summary>The lowest port id from SwitchTables.MaxEthPorts up that no port holds (the validator caps their number).</summary>
    private ushort FreeVhostPortId()
    {
        var taken = _vhostPorts.Values.Select(p => p.PortId).ToHashSet();
        for (int id = SwitchTables.MaxEthPorts; id < SwitchTables.MaxPorts; id++)
        {
            if (!taken.Contains((ushort)id))
                return (ushort)id;
        }
        throw new PortSetupException($"all {SwitchTables.MaxVhostPorts} vhost-user port ids are taken");
    }

    private void DetachPort(PortSpec port)
    {
        _atAttach.Remove(port.Name);
        if (_vhostPorts.Remove(port.Name, out VhostPort? vhost))
        {
            _vhost!.Stop(vhost);
            _portIds.Remove(port.Name);
            Log($"port '{port.Name}' removed");
            return;
        }
        ushort id = _portIds[port.Name];
        _stoppedStats.Remove(port.Name);
        EthPort.Stop(id);
        _portIds.Remove(port.Name);
        _ = rte_eal_hotplug_remove("vdev", port.DeviceName);
        Log($"port '{port.Name}' removed");
    }

    /// <summary>
    /// Compiles and swaps in new tables, then waits until every worker has seen them. A change is
    /// all or nothing: if a worker does not finish a loop in time, the previous tables (whose
    /// ports are all still attached) go back in and the caller gets an error, before it has
    /// detached anything.
    /// </summary>
    /// <exception cref="ControlException">A worker did not move on to the new tables in time; they were withdrawn.</exception>
    private void Publish(SwitchSpec spec)
    {
        SwitchTables previous = Tables;
        Volatile.Write(ref _tables, SwitchTables.Build(spec, _portIds, _workerCount, _uplinkMac, _neighbours?.Macs, _vhostPorts).Succeeding(previous));
        Interlocked.Increment(ref _generation);
        try
        {
            WaitForWorkers();
        }
        catch (TimeoutException e) when (_state == DaemonState.Running)
        {
            Volatile.Write(ref _tables, previous);
            Interlocked.Increment(ref _generation);
            Log($"{e.Message}; the change is withdrawn");
            throw new ControlException($"{e.Message}; the change was withdrawn and nothing changed");
        }
    }

    /// <summary>
    /// Returns once every running worker has completed a whole poll loop that began after this
    /// call: its epoch moves at the end of each loop, so two steps guarantee a fresh one.
    /// </summary>
    private void WaitForWorkers()
    {
        var start = _workers.Select(w => Volatile.Read(ref w.Counters.Epoch)).ToArray();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < _workers.Length; i++)
        {
            while (_workers[i].IsRunning && Volatile.Read(ref _workers[i].Counters.Epoch) < start[i] + 2)
            {
                if (clock.Elapsed > QuiesceTimeout)
                    throw new TimeoutException($"worker {i} did not finish a poll loop within {QuiesceTimeout.TotalSeconds} s");
                Thread.Sleep(1);
            }
        }
    }

    private void StopWorkers()
    {
        _resolver?.Dispose();
        _resolver = null;
        foreach (PollWorker worker in _workers)
            worker.Stop();
    }

    /// <summary>Stops every port (net_pcap closes and flushes its output captures here), keeping final stats.</summary>
    private void StopPorts()
    {
        foreach (VhostPort vhost in _vhostPorts.Values)
            _vhost!.Stop(vhost);
        _vhostPorts.Clear();
        foreach ((string name, ushort id) in _portIds)
        {
            if (_stoppedStats.ContainsKey(name) || id >= SwitchTables.MaxEthPorts)
                continue;
            _stoppedStats[name] = EthDev.Stats(id);
            EthPort.Stop(id);
        }
    }

    private EthStats StatsOf(string port) =>
        _stoppedStats.TryGetValue(port, out EthStats stats) ? stats : EthDev.Stats(_portIds[port]);

    private static void Log(string message) => Console.Error.WriteLine($"vswitchd: {message}");
}
