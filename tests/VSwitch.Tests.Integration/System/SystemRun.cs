// One vswitchd run over the topology, with two captures per endpoint around it:
//   delivered[e]: the VM side of e's veth, inbound (tcpdump -Q in): what the switch gave e;
//   sent[e]:      the switch side of e's veth, inbound: what e gave the switch.
// Counters are read from vswitchd's exit output, so each scenario that needs its own numbers
// is its own run.
//
// How a run knows the switch is done: a fixed "settle" delay is not enough on a loaded
// two-core machine (a busy neighbour on the worker's core delayed forwarding by more than half
// a second). So Finish ends every run with two sentinel frames per endpoint e, sent after all
// other traffic: "<e>:sentinel", unicast to e's peer, and "<e>:sentinel-arp", an ARP request for
// the peer's address that the responder answers back to e. It then waits until e's capture on
// the switch side holds both, and e's own capture holds its ARP answer and the peer's unicast
// sentinel. vswitchd serves each port's rx queue in order and each tx ring is FIFO, so by then
// everything e sent has been switched, and everything switched to e (from e's own queue: the
// ARP answer; from the peer's: the peer's sentinel) has been written by e's tcpdump.
// Sentinels are counted like any frame (2 per endpoint: 4 unicast, 4 ARP replies per run);
// tests include them, see RunResult.Sentinel*.
// Dispose kills whatever is still running, whatever happened.
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;

namespace VSwitch.Tests.Integration.SystemTests;

public sealed class SystemRun : IAsyncDisposable
{
    /// <summary>How long the sentinels may take to cross vswitchd; beyond it the run fails (the switch lost or held frames).</summary>
    private static readonly TimeSpan SentinelTimeout = TimeSpan.FromSeconds(30);
    /// <summary>How long vswitchd may take to exit after SIGTERM.</summary>
    private static readonly TimeSpan VswitchdStopTimeout = TimeSpan.FromSeconds(20);

    private readonly SystemTopology _topology;
    private readonly VswitchdProcess _vswitchd;
    private readonly Dictionary<Endpoint, PacketCapture> _delivered = [];
    private readonly Dictionary<Endpoint, PacketCapture> _sent = [];
    private readonly PeerHelpers _peers;

    public string Name { get; }

    private SystemRun(SystemTopology topology, string name, VswitchdProcess vswitchd)
    {
        _topology = topology;
        Name = name;
        _vswitchd = vswitchd;
        _peers = new PeerHelpers(topology.PeerScript, FilePath);
    }

    public string FilePath(string file) => Path.Combine(_topology.WorkDir, $"{Name}.{file}");

    /// <param name="flushNeighbours">Empty every VM's ARP cache first, so resolution happens inside this run.</param>
    public static async Task<SystemRun> StartAsync(SystemTopology topology, string name, bool flushNeighbours = true)
    {
        if (flushNeighbours)
        {
            foreach (Endpoint e in topology.Endpoints)
                await e.Ns.RunCheckedAsync("ip", "neigh", "flush", "dev", e.VmInterface);
        }
        var vswitchd = await VswitchdProcess.StartAsync(topology.VswitchdConfig(), Path.Combine(topology.WorkDir, $"{name}.vswitchd.json"),
            VswitchdReady.WorkersPolling);
        var run = new SystemRun(topology, name, vswitchd);
        try
        {
            var starts = new List<Task>();
            foreach (Endpoint e in topology.Endpoints)
            {
                starts.Add(StartCapture(run._delivered, e, $"{e.Name} delivered", e.Ns, e.VmInterface, run.FilePath($"{e.Short}.delivered.pcap")));
                starts.Add(StartCapture(run._sent, e, $"{e.Name} sent", null, e.SwitchInterface, run.FilePath($"{e.Short}.sent.pcap")));
            }
            await Task.WhenAll(starts);
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }
        topology.Log($"[{name}] vswitchd and 8 captures running");
        return run;

        static async Task StartCapture(Dictionary<Endpoint, PacketCapture> into, Endpoint e, string label, NetworkNamespace? ns, string device, string path)
        {
            PacketCapture capture = await PacketCapture.StartAsync(label, ns, device, path);
            lock (into)
                into[e] = capture;
        }
    }

    /// <summary>Starts agents, waits until all are ready (scapy loaded, sinks bound), lets them send at once, waits until all have sent.</summary>
    public async Task RunAgentsAsync(IReadOnlyDictionary<Endpoint, List<JsonObject>> plans) =>
        _topology.Log($"[{Name}] agents sent {await _peers.RunAgentsAsync(plans)}");

    public BackgroundProcess StartHelper(Endpoint e, string label, params string[] peerArgs) => _peers.Start(e, label, peerArgs);

    /// <summary>Sends the sentinels and waits for them, stops the captures and vswitchd, and returns what each saw.</summary>
    public async Task<RunResult> FinishAsync()
    {
        await SendSentinelsAsync();
        var delivered = new Dictionary<Endpoint, IReadOnlyList<FrameFacts>>();
        var sent = new Dictionary<Endpoint, IReadOnlyList<FrameFacts>>();
        foreach (Endpoint e in _topology.Endpoints)
        {
            delivered[e] = (await _delivered[e].StopAsync()).Select(FrameFacts.Parse).ToList();
            sent[e] = (await _sent[e].StopAsync()).Select(FrameFacts.Parse).ToList();
        }
        var counters = VswitchdCounters.Parse(await _vswitchd.StopAsync(VswitchdStop.Sigterm, VswitchdStopTimeout));
        await _peers.StopAllAsync();
        var result = new RunResult(_topology, Name, counters, delivered, sent);
        _topology.Log($"[{Name}] finished: {result.Headline()}");
        return result;
    }

    public static string SentinelLabel(Endpoint from) => $"{from.Short}:sentinel";

    public static string SentinelArpLabel(Endpoint from) => $"{from.Short}:sentinel-arp";

    private async Task SendSentinelsAsync()
    {
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(_topology.Endpoints.Select(async e =>
        {
            Endpoint peer = _topology.PeerOf(e);
            (await e.Ns.RunAsync(Prerequisites.SystemPython,
                [_topology.PeerScript, "sentinels", e.VmInterface, e.Mac, e.Ipv4, peer.Mac, peer.Ipv4, e.Short])).EnsureSuccess();
        }));
        while (true)
        {
            var missing = new List<string>();
            foreach (Endpoint e in _topology.Endpoints)
            {
                var sent = Markers(_sent[e]);
                var delivered = Markers(_delivered[e]);
                if (!sent.Contains(SentinelLabel(e)) || !sent.Contains(SentinelArpLabel(e)))
                    missing.Add($"{e.Name}'s sentinels in its switch-side capture");
                if (!delivered.Contains(SentinelArpLabel(e)))
                    missing.Add($"the ARP answer to {e.Name}'s sentinel");
                if (!delivered.Contains(SentinelLabel(_topology.PeerOf(e))))
                    missing.Add($"{_topology.PeerOf(e).Name}'s sentinel at {e.Name}");
            }
            if (missing.Count == 0)
                break;
            if (clock.Elapsed > SentinelTimeout)
            {
                throw new TimeoutException(
                    $"[{Name}] end-of-run sentinels missing after {SentinelTimeout.TotalSeconds} s: {string.Join("; ", missing)}. " +
                    $"vswitchd holds or lost frames on a known path, or a capture stalled.\n{_vswitchd.Log}");
            }
            await Task.Delay(20);
        }
        _topology.Log($"[{Name}] all sentinels through after {clock.ElapsedMilliseconds} ms");

        static HashSet<string?> Markers(PacketCapture capture) => capture.ReadSoFar().Select(f => FrameFacts.Parse(f).Marker).ToHashSet();
    }

    public async ValueTask DisposeAsync()
    {
        await _peers.StopAllAsync();
        foreach (PacketCapture capture in _delivered.Values.Concat(_sent.Values))
            await capture.DisposeAsync();
        await _vswitchd.DisposeAsync();
    }
}

/// <summary>A finished run: vswitchd's counters and every endpoint's captures, with the checks every run shares.</summary>
public sealed class RunResult(SystemTopology topology, string name, VswitchdCounters counters,
    IReadOnlyDictionary<Endpoint, IReadOnlyList<FrameFacts>> delivered, IReadOnlyDictionary<Endpoint, IReadOnlyList<FrameFacts>> sent)
{
    public string Name { get; } = name;
    public VswitchdCounters Counters { get; } = counters;
    /// <summary>Frames the switch delivered to each endpoint.</summary>
    public IReadOnlyDictionary<Endpoint, IReadOnlyList<FrameFacts>> Delivered { get; } = delivered;
    /// <summary>Frames each endpoint sent into the switch.</summary>
    public IReadOnlyDictionary<Endpoint, IReadOnlyList<FrameFacts>> Sent { get; } = sent;

    public int DeliveredWithMarker(Endpoint e, string label) => Delivered[e].Count(f => f.Marker == label);

    public string Headline() =>
        RunChecks.Headline(Counters) + "; " +
        string.Join("; ", topology.Endpoints.Select(e => $"{e.Name} sent {Sent[e].Count} got {Delivered[e].Count}")) +
        $"; workers {Counters.Raw["workers"]?.ToJsonString()}";

    /// <summary>Frames each endpoint sends to end a run: a unicast sentinel to its peer and an ARP request the responder answers.</summary>
    public const int SentinelFramesPerEndpoint = 2;
    /// <summary>Sentinel frames vswitchd switches as known unicast in a run (one per endpoint).</summary>
    public int SentinelUnicast => topology.Endpoints.Count;
    /// <summary>Sentinel ARP requests the responder answers in a run (one per endpoint).</summary>
    public int SentinelArpReplies => topology.Endpoints.Count;

    /// <summary>
    /// Ties the counters to the captures: per port, vswitchd received exactly what the VM sent
    /// and transmitted exactly what the VM got, and DPDK lost nothing on the way. Also: each
    /// endpoint got exactly one sentinel, its peer's.
    /// </summary>
    public void CheckPortLedger(ExpectedCounts expect)
    {
        foreach (Endpoint e in topology.Endpoints)
        {
            foreach (Endpoint from in topology.Endpoints)
            {
                expect.Equal($"sentinel of {from.Name} at {e.Name}", from == topology.PeerOf(e) ? 1 : 0,
                    Delivered[e].Count(f => f.Marker == SystemRun.SentinelLabel(from)));
                expect.Equal($"ARP answer to the sentinel of {from.Name} at {e.Name}", from == e ? 1 : 0,
                    Delivered[e].Count(f => f.Marker == SystemRun.SentinelArpLabel(from) && f.IsArpReply));
            }
            PortCounters p = Counters.Port(e.PortName);
            RunChecks.PortLedger(expect, e.PortName, p, framesInto: Sent[e].Count, framesOutOf: Delivered[e].Count);
            expect.True(p.Vm == e.Name, $"{e.PortName}.vm is '{p.Vm}', expected '{e.Name}'");
        }
    }

    /// <summary>Every drop reason is 0 except those named, which have exactly the given counts.</summary>
    public void CheckDrops(ExpectedCounts expect, IReadOnlyDictionary<string, long>? expected = null) =>
        RunChecks.Drops(expect, "", Counters, expected);

    /// <summary>Counters and a per-endpoint frame listing, for failure messages.</summary>
    public string Describe()
    {
        var text = new StringBuilder($"run '{Name}' (captures and configs in {topology.WorkDir}, kept on failure)\n");
        text.Append("counters: ").Append(Counters.Raw.ToJsonString()).Append('\n');
        foreach (Endpoint e in topology.Endpoints)
        {
            RunChecks.AppendFrames(text, $"{e.Name} sent", Sent[e]);
            RunChecks.AppendFrames(text, $"{e.Name} got", Delivered[e]);
        }
        return text.ToString();
    }
}

internal static class FrameFactsText
{
    public static string EtherTypeName(this FrameFacts f) => f.OuterType switch
    {
        FrameFacts.TypeArp => f.ArpOperation == 1 ? "ARP request" : "ARP reply",
        FrameFacts.TypeIpv4 => $"IPv4 {f.Ipv4Source}>{f.Ipv4Destination} to {f.Destination}",
        FrameFacts.TypeVlan or FrameFacts.TypeQinQ => $"tagged {string.Join('/', f.Vlans)}",
        _ => $"0x{f.OuterType:x4}",
    };
}
