// One run over the overlay topology: vswitchd A and vswitchd B (fresh processes, so each run's
// counters and neighbour tables start at zero; each ARPs for its next hops as it starts) and a
// capture, started before them, at both ends of every link a frame can take:
//   Delivered[e]: what endpoint e received (VM side of its veth, or K's vx0, inbound);
//   Sent[e]:      what e sent (the switch side of its veth inbound, or vx0 outbound);
//   Wire[h]:      what host h's vswitchd put on the underlay (underlay end of its uplink, inbound);
//   FromWire[h]:  what the underlay gave host h's vswitchd (root end of its uplink, inbound);
//   KernelWire / KernelFromWire: the same for K's underlay interface.
//
// How a run knows both switches are done: FinishAsync sends a unicast sentinel from every
// endpoint to every endpoint it can reach (OverlayTopology.ReachableFrom), after all other
// traffic, and waits until each has arrived; each path (VM port -> uplink -> bridge -> uplink
// -> VM port) is FIFO, so by then everything sent before it on that path has been delivered.
// Frames from the underlay injector take no VM's path, so it then also waits until every
// vswitchd port's counters equal its captures (rx = frames into the port, tx = frames out of it
// seen at the far end), twice in a row.
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;

namespace VSwitch.Tests.Integration.SystemTests.Overlay;

public sealed class OverlayRun : IAsyncDisposable
{
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(30);
    /// <summary>8 MiB per capture (16 of them): the 2 MiB default dropped frames of a 200 kB TCP exchange on vx0.</summary>
    private const int CaptureBufferKiB = 8192;
    private static readonly TimeSpan VswitchdStopTimeout = TimeSpan.FromSeconds(20);

    private readonly OverlayTopology _t;
    private readonly Dictionary<OverlayHost, VswitchdProcess> _vswitchd = [];
    private readonly Dictionary<string, PacketCapture> _captures = [];
    private readonly PeerHelpers _peers;

    public string Name { get; }

    private OverlayRun(OverlayTopology t, string name)
    {
        _t = t;
        Name = name;
        _peers = new PeerHelpers(t.PeerScript, FilePath);
    }

    public string FilePath(string file) => Path.Combine(_t.WorkDir, $"{Name}.{file}");

    public VswitchdProcess Vswitchd(OverlayHost h) => _vswitchd[h];

    public static string DeliveredKey(Endpoint e) => $"{e.Short}.delivered";
    public static string SentKey(Endpoint e) => $"{e.Short}.sent";
    public static string WireKey(OverlayHost h) => $"u{h.Short}.wire";
    public static string FromWireKey(OverlayHost h) => $"u{h.Short}.from-wire";
    public const string KernelWireKey = "k.wire";
    public const string KernelFromWireKey = "k.from-wire";

    /// <param name="flushNeighbours">Empty the VMs' and K's neighbour caches first, so every resolution happens inside this run.</param>
    public static async Task<OverlayRun> StartAsync(OverlayTopology t, string name, bool flushNeighbours = true)
    {
        if (flushNeighbours)
            await t.FlushNeighboursAsync();
        var run = new OverlayRun(t, name);
        try
        {
            var starts = new List<Task>();
            foreach (Endpoint e in t.VmEndpoints)
            {
                starts.Add(run.CaptureAsync(DeliveredKey(e), e.Ns, e.VmInterface, CaptureDirection.In));
                starts.Add(run.CaptureAsync(SentKey(e), t.HostOf(e).Ns, e.SwitchInterface, CaptureDirection.In));
            }
            starts.Add(run.CaptureAsync(DeliveredKey(t.RedK), t.Kernel, OverlayTopology.KernelVxlanDevice, CaptureDirection.In));
            starts.Add(run.CaptureAsync(SentKey(t.RedK), t.Kernel, OverlayTopology.KernelVxlanDevice, CaptureDirection.Out));
            starts.Add(run.CaptureAsync(KernelFromWireKey, t.Kernel, t.KernelUnderlayInterface, CaptureDirection.In));
            starts.Add(run.CaptureAsync(KernelWireKey, t.Kernel, t.KernelUnderlayInterface, CaptureDirection.Out));
            foreach (OverlayHost h in t.Hosts)
            {
                starts.Add(run.CaptureAsync(WireKey(h), t.Underlay, h.UnderlayInterface, CaptureDirection.In));
                starts.Add(run.CaptureAsync(FromWireKey(h), h.Ns, h.UplinkInterface, CaptureDirection.In));
            }
            await Task.WhenAll(starts);
            // The captures run first: vswitchd asks for its next hops' MACs as soon as it starts.
            foreach (OverlayHost h in t.Hosts)
            {
                string config = run.FilePath($"{h.Short}.vswitchd.json");
                await File.WriteAllTextAsync(config, OverlayConfigs.For(t, h).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                run._vswitchd[h] = await VswitchdProcess.StartAsync(config, h.FilePrefix, h.ControlSocket, VswitchdReady.ControlSocket, ns: h.Ns);
            }
            // Both workers poll once the control socket answers status with the running state.
            foreach (VswitchdProcess v in run._vswitchd.Values)
                await v.WaitForStateAsync("running", TimeSpan.FromSeconds(30), CancellationToken.None);
            await run.WaitForVtepsAsync();
            await run.TakeBaselineAsync();
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }
        t.Log($"[{name}] vswitchd A and B and {run._captures.Count} captures running");
        return run;
    }

    private async Task CaptureAsync(string key, NetworkNamespace? ns, string device, CaptureDirection direction)
    {
        PacketCapture capture = await PacketCapture.StartAsync(key, ns, device, FilePath($"{key}.pcap"), direction, CaptureBufferKiB);
        lock (_captures)
            _captures[key] = capture;
    }

    public Task<JsonObject> RequestAsync(OverlayHost h, string op) => _vswitchd[h].RequestAsync(new JsonObject { ["op"] = op }, VswitchdProcess.RequestTimeout);

    /// <summary>Runs peer.py agents (crafted frames from endpoints) and waits until each has sent its plan.</summary>
    public async Task RunAgentsAsync(IReadOnlyDictionary<Endpoint, List<JsonObject>> plans) =>
        _t.Log($"[{Name}] agents sent {await _peers.RunAgentsAsync(plans)}");

    /// <summary>Sends tunnelled frames from the underlay namespace (the bridge device) as scapy builds them.</summary>
    public async Task InjectAsync(IReadOnlyList<JsonObject> frames)
    {
        string plan = FilePath("underlay.plan.json");
        await File.WriteAllTextAsync(plan, new JsonObject
        {
            ["iface"] = OverlayTopology.Bridge,
            ["frames"] = new JsonArray([.. frames.Select(f => (JsonNode)f.DeepClone())]),
        }.ToJsonString());
        (await _t.Underlay.RunAsync(Prerequisites.SystemPython, [_t.PeerScript, "inject", plan], TimeSpan.FromSeconds(60))).EnsureSuccess();
        _t.Log($"[{Name}] injected {frames.Sum(f => (int)f["count"]!)} frame(s) from the underlay");
    }

    public BackgroundProcess StartHelper(Endpoint e, string label, params string[] peerArgs) => _peers.Start(e, label, peerArgs);

    public static string SentinelLabel(Endpoint from, Endpoint to) => $"{from.Short}:sentinel:{to.Short}";

    /// <summary>Sentinel frames every run ends with: one per ordered pair of endpoints that reach each other.</summary>
    public IEnumerable<(Endpoint From, Endpoint To)> SentinelPairs() =>
        _t.Endpoints.SelectMany(s => _t.ReachableFrom(s).Select(r => (s, r)));

    /// <summary>Markers of the run's own frames (sentinels), not of a test's plan.</summary>
    public static bool IsRunMarker(string marker) => marker.Contains(":sentinel:", StringComparison.Ordinal);

    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ResolveRetry = TimeSpan.FromMilliseconds(500);

    public async Task<JsonArray> NeighboursAsync(OverlayHost h) =>
        (await RequestAsync(h, "neighbours"))["neighbours"]?.AsArray() ?? throw new InvalidDataException($"{h.Name}: the 'neighbours' reply has no neighbours array");

    /// <summary>Host h's neighbour entry for <paramref name="ip"/> once it is resolved, or whatever it is after the timeout.</summary>
    public async Task<JsonObject> WaitForNeighbourAsync(OverlayHost h, string ip, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            JsonArray table = await NeighboursAsync(h);
            JsonObject? entry = table.OfType<JsonObject>().FirstOrDefault(n => (string?)n["ip"] == ip);
            if ((string?)entry?["state"] == "resolved" || clock.Elapsed > (timeout ?? ResolveTimeout))
                return entry ?? new JsonObject { ["ip"] = ip, ["state"] = "(absent)", ["table"] = table.DeepClone() };
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Waits until both switches have resolved every next hop: each ARPs for them as it starts
    /// (A for host-b and K, B for host-a), and retries until answered. Sends no frame itself.
    /// </summary>
    public async Task WaitForVtepsAsync()
    {
        var clock = Stopwatch.StartNew();
        foreach ((OverlayHost host, string ip) in new[] { (_t.A, _t.B.Vtep), (_t.A, OverlayTopology.KernelVtep), (_t.B, _t.A.Vtep) })
        {
            JsonObject entry = await WaitForNeighbourAsync(host, ip);
            if ((string?)entry["state"] != "resolved")
                throw new TimeoutException($"[{Name}] {host.Name} did not resolve {ip} within {ResolveTimeout.TotalSeconds} s: {entry.ToJsonString()}");
        }
        _t.Log($"[{Name}] every next hop resolved after {clock.ElapsedMilliseconds} ms");
    }

    /// <summary>
    /// Frames captured going into a port before its vswitchd opened it: the first switch's ARP
    /// for the second one's VTEP reaches the second uplink before the second vswitchd runs.
    /// Taken once both are up and every next hop is resolved, when nothing moves (two equal
    /// readings); the ledger counts from here.
    /// </summary>
    private readonly Dictionary<(OverlayHost, string), (int Rx, int Tx)> _before = [];

    public IReadOnlyDictionary<(OverlayHost, string), (int Rx, int Tx)> FramesBeforeStart => _before;

    private async Task TakeBaselineAsync()
    {
        var clock = Stopwatch.StartNew();
        string? previous = null;
        while (true)
        {
            var readings = await ReadLedgerAsync();
            string now = string.Join("; ", readings.Select(x => $"{x.Host.Name}.{x.Port} {x.Rx}/{x.CapturedRx} {x.Tx}/{x.CapturedTx}"));
            if (now == previous)
            {
                foreach (var x in readings)
                    _before[(x.Host, x.Port)] = (x.CapturedRx - (int)x.Rx, x.CapturedTx - (int)x.Tx);
                _t.Log($"[{Name}] baseline after {clock.ElapsedMilliseconds} ms (counter/capture): {now}");
                return;
            }
            if (clock.Elapsed > SettleTimeout)
                throw new TimeoutException($"[{Name}] the underlay never went quiet after start (counter/capture): {now}");
            previous = now;
            await Task.Delay(200);
        }
    }

    private async Task<List<(OverlayHost Host, string Port, long Rx, int CapturedRx, long Tx, int CapturedTx)>> ReadLedgerAsync()
    {
        var readings = new List<(OverlayHost, string, long, int, long, int)>();
        foreach ((OverlayHost h, VswitchdProcess v) in _vswitchd)
        {
            VswitchdCounters c = VswitchdCounters.Parse(await v.RequestAsync(new JsonObject { ["op"] = "counters" }, VswitchdProcess.RequestTimeout));
            foreach ((string port, string into, string outOf) in PortCaptures(h))
            {
                PortCounters p = c.Port(port);
                readings.Add((h, port, p.Rx, _captures[into].ReadSoFar().Count, p.Tx, _captures[outOf].ReadSoFar().Count));
            }
        }
        return readings;
    }

    /// <summary>Sends the sentinels, waits for them and for the counters to match the captures, stops everything, returns what each saw.</summary>
    public async Task<OverlayResult> FinishAsync()
    {
        await SendSentinelsAsync();
        await SettleAsync();
        var frames = new Dictionary<string, IReadOnlyList<FrameFacts>>();
        foreach ((string key, PacketCapture capture) in _captures)
            frames[key] = (await capture.StopAsync()).Select(FrameFacts.Parse).ToList();
        var counters = new Dictionary<OverlayHost, VswitchdCounters>();
        foreach ((OverlayHost h, VswitchdProcess v) in _vswitchd)
            counters[h] = VswitchdCounters.Parse(await v.StopAsync(VswitchdStop.Sigterm, VswitchdStopTimeout));
        await _peers.StopAllAsync();
        var result = new OverlayResult(_t, Name, counters, frames, _before);
        _t.Log($"[{Name}] finished: {result.Headline()}");
        return result;
    }

    private async Task SendSentinelsAsync()
    {
        var clock = Stopwatch.StartNew();
        foreach ((Endpoint from, Endpoint to) in SentinelPairs())
        {
            (await from.Ns.RunAsync(Prerequisites.SystemPython,
                [_t.PeerScript, "sentinel", from.VmInterface, from.Mac, to.Mac, SentinelLabel(from, to)])).EnsureSuccess();
        }
        while (true)
        {
            var missing = SentinelPairs().Where(p => !Markers(DeliveredKey(p.To)).Contains(SentinelLabel(p.From, p.To)))
                .Select(p => SentinelLabel(p.From, p.To)).ToList();
            if (missing.Count == 0)
                break;
            if (clock.Elapsed > SettleTimeout)
            {
                throw new TimeoutException($"[{Name}] sentinels missing after {SettleTimeout.TotalSeconds} s: {string.Join(", ", missing)}. " +
                    $"A switch lost or held frames on a known path, or a capture stalled.\n{string.Join("\n", _vswitchd.Values.Select(v => v.Log))}");
            }
            await Task.Delay(20);
        }
        _t.Log($"[{Name}] all {SentinelPairs().Count()} sentinels through after {clock.ElapsedMilliseconds} ms");

        HashSet<string?> Markers(string key) => _captures[key].ReadSoFar().Select(f => FrameFacts.Parse(f).Marker).ToHashSet();
    }

    /// <summary>Waits until every port's rx and tx counters equal the frames captured into and out of it since the baseline, twice in a row.</summary>
    private async Task SettleAsync()
    {
        var clock = Stopwatch.StartNew();
        string? previous = null;
        while (true)
        {
            var readings = await ReadLedgerAsync();
            var state = readings.Select(x => $"{x.Host.Name}.{x.Port} rx {x.Rx}/{x.CapturedRx - _before[(x.Host, x.Port)].Rx} tx {x.Tx}/{x.CapturedTx - _before[(x.Host, x.Port)].Tx}").ToList();
            bool matched = readings.All(x => x.Rx == x.CapturedRx - _before[(x.Host, x.Port)].Rx && x.Tx == x.CapturedTx - _before[(x.Host, x.Port)].Tx);
            string now = string.Join("; ", state);
            if (matched && now == previous)
            {
                _t.Log($"[{Name}] settled after {clock.ElapsedMilliseconds} ms (counter/capture since the baseline): {now}");
                return;
            }
            if (clock.Elapsed > SettleTimeout)
                throw new TimeoutException($"[{Name}] counters never matched the captures within {SettleTimeout.TotalSeconds} s (counter/capture since the baseline): {now}");
            previous = matched ? now : null;
            await Task.Delay(100);
        }
    }

    /// <summary>Each port of host h's vswitchd with the capture of frames into it and the capture of frames out of it.</summary>
    private IEnumerable<(string Port, string Into, string OutOf)> PortCaptures(OverlayHost h) =>
        h.Vms.Select(e => (e.PortName, SentKey(e), DeliveredKey(e))).Append((OverlayConfigs.UplinkPort, FromWireKey(h), WireKey(h)));

    public async ValueTask DisposeAsync()
    {
        await _peers.StopAllAsync();
        foreach (PacketCapture capture in _captures.Values)
            await capture.DisposeAsync();
        foreach (VswitchdProcess v in _vswitchd.Values)
            await v.DisposeAsync();
    }
}

/// <summary>A finished overlay run: both vswitchds' exit counters and every capture.</summary>
public sealed class OverlayResult(OverlayTopology t, string name, IReadOnlyDictionary<OverlayHost, VswitchdCounters> counters,
    IReadOnlyDictionary<string, IReadOnlyList<FrameFacts>> frames, IReadOnlyDictionary<(OverlayHost, string), (int Rx, int Tx)> before)
{
    public string Name { get; } = name;
    public IReadOnlyDictionary<OverlayHost, VswitchdCounters> Counters { get; } = counters;
    public IReadOnlyDictionary<string, IReadOnlyList<FrameFacts>> Frames { get; } = frames;

    public IReadOnlyList<FrameFacts> Delivered(Endpoint e) => Frames[OverlayRun.DeliveredKey(e)];
    public IReadOnlyList<FrameFacts> Sent(Endpoint e) => Frames[OverlayRun.SentKey(e)];
    public IReadOnlyList<FrameFacts> Wire(OverlayHost h) => Frames[OverlayRun.WireKey(h)];
    public IReadOnlyList<FrameFacts> FromWire(OverlayHost h) => Frames[OverlayRun.FromWireKey(h)];

    /// <summary>What the underlay gave host h's vswitchd once it ran (FromWire without the frames before its start).</summary>
    public IEnumerable<FrameFacts> FromWireCounted(OverlayHost h) => FromWire(h).Skip(before[(h, OverlayConfigs.UplinkPort)].Rx);

    public int DeliveredWithMarker(Endpoint e, string label) => Delivered(e).Count(f => f.Marker == label);

    public string Headline() =>
        string.Join("; ", Counters.Select(kv => $"{kv.Key.Name}: {RunChecks.Headline(kv.Value)}")) +
        "; " + string.Join("; ", t.Endpoints.Select(e => $"{e.Name} sent {Sent(e).Count} got {Delivered(e).Count}"));

    /// <summary>Every sentinel arrived exactly once, at its addressee only.</summary>
    public void CheckSentinels(ExpectedCounts expect, IEnumerable<(Endpoint From, Endpoint To)> pairs)
    {
        foreach ((Endpoint from, Endpoint to) in pairs)
        {
            foreach (Endpoint at in t.Endpoints)
                expect.Equal($"sentinel {from.Name}->{to.Name} at {at.Name}", at == to ? 1 : 0, DeliveredWithMarker(at, OverlayRun.SentinelLabel(from, to)));
        }
    }

    /// <summary>Per vswitchd port: counters equal the captures at both ends, and DPDK lost nothing.</summary>
    public void CheckPortLedger(ExpectedCounts expect)
    {
        foreach (OverlayHost h in t.Hosts)
        {
            VswitchdCounters c = Counters[h];
            var ports = h.Vms.Select(e => (Port: e.PortName, Into: Sent(e), OutOf: Delivered(e)))
                .Append((OverlayConfigs.UplinkPort, FromWire(h), Wire(h)));
            foreach ((string port, IReadOnlyList<FrameFacts> into, IReadOnlyList<FrameFacts> outOf) in ports)
            {
                PortCounters p = c.Port(port);
                string n = $"{h.Name}.{port}";
                (int beforeRx, int beforeTx) = before[(h, port)];
                // Only an uplink can see frames before its vswitchd runs (the other switch's ARP at its start).
                expect.Equal($"{n}: frames into it before vswitchd ran", port == OverlayConfigs.UplinkPort ? beforeRx : 0, beforeRx);
                OverlayHost other = h == t.A ? t.B : t.A;
                var early = into.Take(beforeRx).Where(f => !(f.IsArpRequest && f.Source == other.OverlayMac)).ToList();
                expect.True(early.Count == 0, $"{n}: before vswitchd ran, only the other switch's ARP requests may arrive: {string.Join("; ", early)}");
                expect.Equal($"{n}: frames out of it before the baseline, not counted", 0, beforeTx);
                RunChecks.PortLedger(expect, n, p, framesInto: into.Count - beforeRx, framesOutOf: outOf.Count - beforeTx);
            }
        }
    }

    /// <summary>
    /// The design's promise on every path these runs take (encapsulation, head-end replication,
    /// decapsulation, VTEP ARP, neighbour learning, every drop): the workers allocated nothing.
    /// </summary>
    public void CheckWorkersAllocatedNothing(ExpectedCounts expect)
    {
        foreach ((OverlayHost h, VswitchdCounters c) in Counters)
        {
            JsonArray workers = c.Raw["workers"]?.AsArray() ?? [];
            expect.True(workers.Count > 0, $"{h.Name}: no workers in the counters");
            for (int i = 0; i < workers.Count; i++)
            {
                expect.Equal($"{h.Name} worker {i} allocated_bytes", 0, (long)workers[i]!["allocated_bytes"]!);
                // A method compiled on a worker is a path WorkerPrecompile missed: compiling may allocate (rarely).
                expect.Equal($"{h.Name} worker {i} jit_methods", 0, (long)workers[i]!["jit_methods"]!);
            }
        }
    }

    /// <summary>Every drop reason of host h is 0 except those named, which have exactly the given counts.</summary>
    public void CheckDrops(ExpectedCounts expect, OverlayHost h, IReadOnlyDictionary<string, long>? expected = null) =>
        RunChecks.Drops(expect, h.Name, Counters[h], expected);

    public string Describe()
    {
        var text = new System.Text.StringBuilder($"run '{Name}' (captures and configs in {t.WorkDir}, kept on failure)\n");
        foreach ((OverlayHost h, VswitchdCounters c) in Counters)
            text.Append($"{h.Name} counters: ").Append(c.Raw.ToJsonString()).Append('\n');
        foreach ((string key, IReadOnlyList<FrameFacts> frames) in Frames.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            RunChecks.AppendFrames(text, $"{key}:", frames);
        return text.ToString();
    }
}
