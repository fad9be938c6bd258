// One run over the overlay topology: vswitchd A and vswitchd B (fresh processes, so each run's
// counters and neighbour tables start at zero) and a capture at both ends of every link a
// frame can take:
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
    private static readonly TimeSpan VswitchdStopTimeout = TimeSpan.FromSeconds(20);

    private readonly OverlayTopology _t;
    private readonly Dictionary<OverlayHost, VswitchdProcess> _vswitchd = [];
    private readonly Dictionary<string, PacketCapture> _captures = [];
    private readonly List<BackgroundProcess> _helpers = [];

    public string Name { get; }

    private OverlayRun(OverlayTopology t, string name)
    {
        _t = t;
        Name = name;
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
            foreach (OverlayHost h in t.Hosts)
            {
                string config = run.FilePath($"{h.Short}.vswitchd.json");
                await File.WriteAllTextAsync(config, OverlayConfigs.For(t, h).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                run._vswitchd[h] = await VswitchdProcess.StartAsync(config, h.FilePrefix, h.ControlSocket, VswitchdReady.ControlSocket);
            }
            var starts = new List<Task>();
            foreach (Endpoint e in t.VmEndpoints)
            {
                starts.Add(run.CaptureAsync(DeliveredKey(e), e.Ns, e.VmInterface, CaptureDirection.In));
                starts.Add(run.CaptureAsync(SentKey(e), null, e.SwitchInterface, CaptureDirection.In));
            }
            starts.Add(run.CaptureAsync(DeliveredKey(t.RedK), t.Kernel, OverlayTopology.KernelVxlanDevice, CaptureDirection.In));
            starts.Add(run.CaptureAsync(SentKey(t.RedK), t.Kernel, OverlayTopology.KernelVxlanDevice, CaptureDirection.Out));
            starts.Add(run.CaptureAsync(KernelFromWireKey, t.Kernel, t.KernelUnderlayInterface, CaptureDirection.In));
            starts.Add(run.CaptureAsync(KernelWireKey, t.Kernel, t.KernelUnderlayInterface, CaptureDirection.Out));
            foreach (OverlayHost h in t.Hosts)
            {
                starts.Add(run.CaptureAsync(WireKey(h), t.Underlay, h.UnderlayInterface, CaptureDirection.In));
                starts.Add(run.CaptureAsync(FromWireKey(h), null, h.UplinkInterface, CaptureDirection.In));
            }
            await Task.WhenAll(starts);
            // Both workers poll once the control socket answers status with the running state.
            foreach (VswitchdProcess v in run._vswitchd.Values)
                await v.WaitForStateAsync("running", TimeSpan.FromSeconds(30), CancellationToken.None);
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
        PacketCapture capture = await PacketCapture.StartAsync(key, ns, device, FilePath($"{key}.pcap"), direction);
        lock (_captures)
            _captures[key] = capture;
    }

    public Task<JsonObject> RequestAsync(OverlayHost h, string op) => _vswitchd[h].RequestAsync(new JsonObject { ["op"] = op }, VswitchdProcess.RequestTimeout);

    /// <summary>Runs peer.py agents (crafted frames from endpoints) and waits until each has sent its plan.</summary>
    public async Task RunAgentsAsync(IReadOnlyDictionary<Endpoint, List<JsonObject>> plans)
    {
        var agents = new List<(BackgroundProcess Agent, int Frames)>();
        foreach ((Endpoint e, List<JsonObject> frames) in plans)
        {
            string plan = FilePath($"{e.Short}.plan.json");
            var json = new JsonObject
            {
                ["iface"] = e.VmInterface,
                ["sink_port"] = PeerScripts.SinkPort,
                ["gap_s"] = 0.001,
                ["frames"] = new JsonArray([.. frames.Select(f => (JsonNode)f.DeepClone())]),
            };
            await File.WriteAllTextAsync(plan, json.ToJsonString());
            BackgroundProcess agent = e.Ns.Start($"agent {e.Name}", Prerequisites.SystemPython, [_t.PeerScript, "agent", plan], redirectStdin: true);
            _helpers.Add(agent);
            agents.Add((agent, frames.Sum(f => (int)f["count"]!)));
        }
        await Task.WhenAll(agents.Select(a => a.Agent.WaitForLineAsync(l => l == $"ready {a.Frames}", TimeSpan.FromSeconds(60), $"'ready {a.Frames}'")));
        foreach (var (agent, _) in agents)
            await agent.WriteLineAsync("go");
        await Task.WhenAll(agents.Select(a => a.Agent.WaitForLineAsync(l => l == $"sent {a.Frames}", TimeSpan.FromSeconds(60), $"'sent {a.Frames}'")));
        _t.Log($"[{Name}] agents sent {string.Join(", ", agents.Select(a => $"{a.Agent.Name}: {a.Frames}"))}");
    }

    /// <summary>Sends tunnelled frames from the underlay namespace (the bridge device) as scapy builds them.</summary>
    public async Task InjectAsync(IReadOnlyList<JsonObject> frames)
    {
        string plan = FilePath("underlay.plan.json");
        await File.WriteAllTextAsync(plan, new JsonObject
        {
            ["iface"] = OverlayTopology.Bridge,
            ["frames"] = new JsonArray([.. frames.Select(f => (JsonNode)f.DeepClone())]),
        }.ToJsonString());
        (await _t.Underlay.RunAsync(Prerequisites.SystemPython, [_t.UnderlayScript, "inject", plan], TimeSpan.FromSeconds(60))).EnsureSuccess();
        _t.Log($"[{Name}] injected {frames.Sum(f => (int)f["count"]!)} frame(s) from the underlay");
    }

    public BackgroundProcess StartHelper(Endpoint e, string label, params string[] peerArgs)
    {
        BackgroundProcess helper = e.Ns.Start(label, Prerequisites.SystemPython, [_t.PeerScript, .. peerArgs]);
        _helpers.Add(helper);
        return helper;
    }

    public static string SentinelLabel(Endpoint from, Endpoint to) => $"{from.Short}:sentinel:{to.Short}";

    /// <summary>The marker of the frames <see cref="ResolveVtepsAsync"/> sends from <paramref name="from"/>.</summary>
    public static string ResolveLabel(Endpoint from) => $"{from.Short}:resolve";

    /// <summary>Markers of the run's own frames (sentinels, resolving frames), not of a test's plan.</summary>
    public static bool IsRunMarker(string marker) => marker.Contains(":sentinel:", StringComparison.Ordinal) || marker.EndsWith(":resolve", StringComparison.Ordinal);

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
    /// Makes every switch resolve the VTEPs the sentinels need: while host h has no resolved
    /// entry for a peer's VTEP, one UDP-less frame "<from>:resolve" goes from a VM behind h to a
    /// VM behind that peer, every 500 ms. A frame sent before the entry is resolved is dropped
    /// (neighbour_unresolved); tests count those from the captures.
    /// </summary>
    public async Task ResolveVtepsAsync()
    {
        (Endpoint From, Endpoint To, OverlayHost Host, string Ip)[] needs =
            [(_t.RedA, _t.RedB, _t.A, _t.B.Vtep), (_t.RedB, _t.RedA, _t.B, _t.A.Vtep), (_t.RedA, _t.RedK, _t.A, OverlayTopology.KernelVtep)];
        var clock = Stopwatch.StartNew();
        foreach (var need in needs)
        {
            while (true)
            {
                JsonObject entry = await WaitForNeighbourAsync(need.Host, need.Ip, TimeSpan.Zero);
                if ((string?)entry["state"] == "resolved")
                    break;
                if (clock.Elapsed > ResolveTimeout)
                    throw new TimeoutException($"[{Name}] {need.Host.Name} did not resolve {need.Ip} within {ResolveTimeout.TotalSeconds} s: {entry.ToJsonString()}");
                (await need.From.Ns.RunAsync(Prerequisites.SystemPython,
                    [_t.UnderlayScript, "sentinel", need.From.VmInterface, need.From.Mac, need.To.Mac, ResolveLabel(need.From)])).EnsureSuccess();
                await Task.Delay(ResolveRetry);
            }
        }
        _t.Log($"[{Name}] VTEPs resolved after {clock.ElapsedMilliseconds} ms");
    }

    /// <summary>Sentinel frames every run ends with: one per ordered pair of endpoints that reach each other.</summary>
    public IEnumerable<(Endpoint From, Endpoint To)> SentinelPairs() =>
        _t.Endpoints.SelectMany(s => _t.ReachableFrom(s).Select(r => (s, r)));

    /// <summary>Sends the sentinels, waits for them and for the counters to match the captures, stops everything, returns what each saw.</summary>
    public async Task<OverlayResult> FinishAsync()
    {
        await ResolveVtepsAsync();
        await SendSentinelsAsync();
        await SettleAsync();
        var frames = new Dictionary<string, IReadOnlyList<FrameFacts>>();
        foreach ((string key, PacketCapture capture) in _captures)
            frames[key] = (await capture.StopAsync()).Select(FrameFacts.Parse).ToList();
        var counters = new Dictionary<OverlayHost, VswitchdCounters>();
        foreach ((OverlayHost h, VswitchdProcess v) in _vswitchd)
            counters[h] = VswitchdCounters.Parse(await v.StopAsync(VswitchdStop.Sigint, VswitchdStopTimeout));
        await StopHelpersAsync();
        var result = new OverlayResult(_t, Name, counters, frames);
        _t.Log($"[{Name}] finished: {result.Headline()}");
        return result;
    }

    private async Task SendSentinelsAsync()
    {
        var clock = Stopwatch.StartNew();
        foreach ((Endpoint from, Endpoint to) in SentinelPairs())
        {
            (await from.Ns.RunAsync(Prerequisites.SystemPython,
                [_t.UnderlayScript, "sentinel", from.VmInterface, from.Mac, to.Mac, SentinelLabel(from, to)])).EnsureSuccess();
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

    /// <summary>Waits until every port's rx and tx counters equal the frames captured into and out of it, twice in a row.</summary>
    private async Task SettleAsync()
    {
        var clock = Stopwatch.StartNew();
        string last = "";
        string? previous = null;
        while (true)
        {
            var mismatches = new List<string>();
            var state = new List<string>();
            foreach ((OverlayHost h, VswitchdProcess v) in _vswitchd)
            {
                VswitchdCounters c = VswitchdCounters.Parse(await v.RequestAsync(new JsonObject { ["op"] = "counters" }, VswitchdProcess.RequestTimeout));
                foreach ((string port, string into, string outOf) in PortCaptures(h))
                {
                    PortCounters p = c.Port(port);
                    int rx = _captures[into].ReadSoFar().Count, tx = _captures[outOf].ReadSoFar().Count;
                    state.Add($"{h.Name}.{port} rx {p.Rx}/{rx} tx {p.Tx}/{tx}");
                    if (p.Rx != rx || p.Tx != tx)
                        mismatches.Add(state[^1]);
                }
            }
            last = string.Join("; ", state);
            if (mismatches.Count == 0 && last == previous)
                break;
            if (clock.Elapsed > SettleTimeout)
                throw new TimeoutException($"[{Name}] counters never matched the captures within {SettleTimeout.TotalSeconds} s (counter/capture): {last}");
            previous = mismatches.Count == 0 ? last : null;
            await Task.Delay(100);
        }
        _t.Log($"[{Name}] settled after {clock.ElapsedMilliseconds} ms: {last}");
    }

    /// <summary>Each port of host h's vswitchd with the capture of frames into it and the capture of frames out of it.</summary>
    private IEnumerable<(string Port, string Into, string OutOf)> PortCaptures(OverlayHost h) =>
        h.Vms.Select(e => (e.PortName, SentKey(e), DeliveredKey(e))).Append((OverlayConfigs.UplinkPort, FromWireKey(h), WireKey(h)));

    private async Task StopHelpersAsync()
    {
        foreach (BackgroundProcess p in _helpers)
        {
            p.CloseStdin();
            await p.WaitForExitAsync(TimeSpan.FromSeconds(5), throwOnTimeout: false);
            await p.DisposeAsync();
        }
        _helpers.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await StopHelpersAsync();
        foreach (PacketCapture capture in _captures.Values)
            await capture.DisposeAsync();
        foreach (VswitchdProcess v in _vswitchd.Values)
            await v.DisposeAsync();
    }
}

/// <summary>A finished overlay run: both vswitchds' exit counters and every capture.</summary>
public sealed class OverlayResult(OverlayTopology t, string name, IReadOnlyDictionary<OverlayHost, VswitchdCounters> counters,
    IReadOnlyDictionary<string, IReadOnlyList<FrameFacts>> frames)
{
    public string Name { get; } = name;
    public IReadOnlyDictionary<OverlayHost, VswitchdCounters> Counters { get; } = counters;
    public IReadOnlyDictionary<string, IReadOnlyList<FrameFacts>> Frames { get; } = frames;

    public IReadOnlyList<FrameFacts> Delivered(Endpoint e) => Frames[OverlayRun.DeliveredKey(e)];
    public IReadOnlyList<FrameFacts> Sent(Endpoint e) => Frames[OverlayRun.SentKey(e)];
    public IReadOnlyList<FrameFacts> Wire(OverlayHost h) => Frames[OverlayRun.WireKey(h)];
    public IReadOnlyList<FrameFacts> FromWire(OverlayHost h) => Frames[OverlayRun.FromWireKey(h)];

    public int DeliveredWithMarker(Endpoint e, string label) => Delivered(e).Count(f => f.Marker == label);

    public string Headline() =>
        string.Join("; ", Counters.Select(kv => $"{kv.Key.Name}: unicast {kv.Value.Unicast}, flooded {kv.Value.Flooded}, arp_replies {kv.Value.ArpReplies}, " +
            $"drops {kv.Value.TotalDrops} ({string.Join(", ", kv.Value.Drops.Where(d => d.Value != 0).Select(d => $"{d.Key} {d.Value}"))})")) +
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
                expect.Equal($"{n}.rx == frames into it (capture)", into.Count, p.Rx);
                expect.Equal($"{n}.tx == frames out of it (capture)", outOf.Count, p.Tx);
                expect.Equal($"{n}.ipackets == rx", p.Rx, p.Ipackets);
                expect.Equal($"{n}.opackets == tx", p.Tx, p.Opackets);
                expect.Equal($"{n}.imissed", 0, p.Imissed);
                expect.Equal($"{n}.ierrors", 0, p.Ierrors);
                expect.Equal($"{n}.oerrors", 0, p.Oerrors);
                expect.Equal($"{n}.rx_nombuf", 0, p.RxNoMbuf);
            }
        }
    }

    /// <summary>Every drop reason of host h is 0 except those named, which have exactly the given counts.</summary>
    public void CheckDrops(ExpectedCounts expect, OverlayHost h, IReadOnlyDictionary<string, long>? expected = null)
    {
        expected ??= new Dictionary<string, long>();
        VswitchdCounters c = Counters[h];
        foreach (string reason in expected.Keys)
            expect.True(c.Drops.ContainsKey(reason), $"{h.Name} reports no drop reason '{reason}' (has: {string.Join(", ", c.Drops.Keys)})");
        foreach ((string reason, long count) in c.Drops)
            expect.Equal($"{h.Name} drops.{reason}", expected.GetValueOrDefault(reason), count);
    }

    public string Describe()
    {
        var text = new System.Text.StringBuilder($"run '{Name}' (captures and configs in {t.WorkDir}, kept on failure)\n");
        foreach ((OverlayHost h, VswitchdCounters c) in Counters)
            text.Append($"{h.Name} counters: ").Append(c.Raw.ToJsonString()).Append('\n');
        foreach ((string key, IReadOnlyList<FrameFacts> frames) in Frames.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            text.Append($"{key}: {frames.Count} frame(s)\n");
            foreach (var group in frames.GroupBy(f => f.Marker is null ? f.ToString() : $"marker {f.Marker} {f.EtherTypeName()}"))
                text.Append($"  {group.Count(),4} x {group.Key}\n");
        }
        return text.ToString();
    }
}
