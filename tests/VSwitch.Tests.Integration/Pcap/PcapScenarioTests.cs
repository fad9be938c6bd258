// The pcap regression lane (Open vSwitch's `make check` idea on real DPDK net_pcap ports): for
// each scenario in pcaps/, vswitchd switches the input captures and must write exactly the
// expected frames and report exactly the expected counters; tshark re-dissects every output.
// The expected side is derived by pcaps/generate.py from each scenario's topology, never
// recorded from vswitchd. Tests in this assembly run one at a time (xunit.runner.json): each
// starts a DPDK process, and two would fight over cores.
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;

namespace VSwitch.Tests.Integration.Pcap;

public sealed class PcapScenarioTests
{
    public static TheoryData<string> Scenarios => new(PcapScenario.Discover());

    [Fact]
    public void Every_required_scenario_is_present()
    {
        IReadOnlyList<string> present = PcapScenario.Discover();
        string[] missing = PcapScenario.Required.Except(present).ToArray();
        Assert.True(missing.Length == 0, $"pcaps/ lacks scenario(s): {string.Join(", ", missing)} (run /usr/bin/python3 pcaps/generate.py)");
    }

    /// <summary>The committed files are exactly what the generator produces (it must be deterministic).</summary>
    [Fact]
    public async Task Generator_reproduces_committed_files()
    {
        const string python = Prerequisites.SystemPython;
        Assert.True(File.Exists(python), $"{python} is missing: the generator needs Debian's python3 with python3-scapy");
        ProcessResult check = await ProcessRunner.RunAsync(python, [Path.Combine(RepoPaths.PcapsDirectory, "generate.py"), "--check"],
            TimeSpan.FromSeconds(120), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(check.Succeeded, $"pcaps/generate.py --check exited {check.ExitCode} (is python3-scapy installed?):\n{check.Stdout}\n{check.Stderr}");
    }

    /// <summary>
    /// The scenario's files agree with each other: a capture per configured port on both sides,
    /// frame counts equal to counters.json, known drop labels only, and expected outputs that
    /// tshark dissects cleanly. Needs no vswitchd, so it also guards the generator on its own.
    /// </summary>
    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Scenario_files_are_consistent(string scenario)
    {
        PcapScenario s = PcapScenario.Load(scenario);
        var problems = new List<string>();
        JsonObject ports = s.ExpectedCounters["ports"]!.AsObject();
        var dissections = new List<Task<(List<string> Problems, int ArpReplies)>>();
        foreach (ScenarioPort port in s.Ports)
        {
            int rx = PcapFile.Read(s.InputPath(port.Name)).Count;
            IReadOnlyList<PcapFrame> expected = PcapFile.Read(s.ExpectedPath(port.Name));
            if (ports[port.Name] is not JsonObject counters)
            {
                problems.Add($"counters.json has no entry for port {port.Name}");
                continue;
            }
            if ((int)counters["rx"]! != rx)
                problems.Add($"{port.Name}: counters.json rx {counters["rx"]}, in/{port.Name}.pcap holds {rx}");
            if ((int)counters["tx"]! != expected.Count)
                problems.Add($"{port.Name}: counters.json tx {counters["tx"]}, expected/{port.Name}.pcap holds {expected.Count}");
            dissections.Add(Tshark.CheckAsync(s, port.Name, s.ExpectedPath(port.Name), expected.Count));
        }
        foreach (var dissection in dissections)
            problems.AddRange((await dissection).Problems);
        problems.AddRange(ports.Select(p => p.Key).Except(s.Ports.Select(p => p.Name)).Select(p => $"counters.json names port {p}, which the config lacks"));
        problems.AddRange(s.ExpectedCounters["drops"]!.AsObject().Select(d => d.Key).Except(PcapScenario.DropLabels).Select(l => $"counters.json: unknown drop label '{l}'"));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>
    /// The tshark tunnel checks can fail: a wrong VNI (not covered by any checksum, since the UDP
    /// checksum is 0), a bad outer IPv4 checksum and a UDP checksum where vswitchd sends none are
    /// each reported. Needs no vswitchd.
    /// </summary>
    [Fact]
    public async Task Tunnel_checks_catch_a_wrong_VNI_and_bad_checksums()
    {
        PcapScenario s = PcapScenario.Load("overlay-encap");
        byte[] good = PcapFile.Read(s.ExpectedPath("up0")).Select(f => f.Data).First(d => FrameComparison.TunnelInnerOffset(d) == 50);
        byte[] wrongVni = (byte[])good.Clone();
        wrongVni[46] ^= 0x01; // VXLAN VNI low byte
        byte[] badIpChecksum = (byte[])good.Clone();
        badIpChecksum[24] ^= 0xFF; // outer IPv4 checksum
        byte[] udpChecksum = (byte[])good.Clone();
        udpChecksum[40] = 0x12; // a (wrong) UDP checksum where vswitchd sends 0
        string capture = Path.Combine(Path.GetTempPath(), $"vsw-tunnel-check-{Environment.ProcessId}.pcap");
        PcapFile.Write(capture, [good, wrongVni, badIpChecksum, udpChecksum]);
        try
        {
            (List<string> problems, _) = await Tshark.CheckAsync(s, "up0", capture, 4);
            Assert.DoesNotContain(problems, p => p.Contains("frame 1 "));
            Assert.Contains(problems, p => p.Contains("frame 2 ") && p.Contains("VNI"));
            Assert.Contains(problems, p => p.Contains("frame 3 ") && p.Contains("outer IPv4 checksum status"));
            Assert.Contains(problems, p => p.Contains("frame 4 ") && p.Contains("outer UDP checksum status"));
        }
        finally
        {
            File.Delete(capture);
        }
    }

    /// <summary>Runs vswitchd on the scenario and checks outputs, counters and tshark's view of the outputs.</summary>
    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Scenario(string scenario)
    {
        PcapScenario s = PcapScenario.Load(scenario);
        _ = Tshark.Executable; // fail before starting DPDK when tshark is missing
        await using var run = new ScenarioRun(s);
        var problems = new List<string>();
        try
        {
            await run.RunToCompletionAsync(TestContext.Current.CancellationToken);

            int expectedReplies = 0;
            var dissections = new List<Task<(List<string> Problems, int ArpReplies)>>();
            foreach (ScenarioPort port in s.Ports)
            {
                IReadOnlyList<PcapFrame> expected = PcapFile.Read(s.ExpectedPath(port.Name));
                expectedReplies += expected.Count(f => FrameFacts.Parse(f).IsArpReply);
                string output = Path.Combine(run.OutputDirectory, port.Name + ".pcap");
                if (!File.Exists(output))
                {
                    problems.Add($"{port.Name}: vswitchd wrote no output capture {output}");
                    continue;
                }
                IReadOnlyList<PcapFrame> actual = PcapFile.Read(output);
                problems.AddRange(FrameComparison.Compare(port.Name, expected, actual));
                // vswitchd has exited: tshark runs may share the cores.
                dissections.Add(Tshark.CheckAsync(s, port.Name, output, actual.Count));
            }
            int dissectedReplies = 0;
            foreach (var dissection in dissections)
            {
                (List<string> tsharkProblems, int replies) = await dissection;
                problems.AddRange(tsharkProblems);
                dissectedReplies += replies;
            }
            if (dissectedReplies != expectedReplies)
                problems.Add($"tshark decoded {dissectedReplies} ARP reply(ies) (opcode 2) in the outputs; the expected outputs hold {expectedReplies}");
            problems.AddRange(CompareCounters("control socket 'counters'", s, run.Counters!));
            problems.AddRange(CompareCounters("exit report on stdout", s, run.FinalCounters!));
            if (s.ExpectedFlows is { } expectedFlows)
                problems.AddRange(CompareFlows(expectedFlows, run.Flows!));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            run.Keep();
            Assert.Fail($"scenario '{scenario}': {e.GetType().Name}: {e.Message}\n(work directory kept: {run.WorkDirectory})");
        }
        if (problems.Count > 0)
        {
            run.Keep();
            Assert.Fail($"scenario '{scenario}': {problems.Count} problem(s) (outputs kept in {run.WorkDirectory}; frame fates in pcaps/{scenario}/frames.txt)\n"
                        + string.Join("\n", problems) + "\n" + run.Log);
        }
    }

    /// <summary>
    /// The flows op's flows, each with its tenant and without its times, against expected/flows.json
    /// (the generator's own count): the same set of flows, each with the same packets, bytes and
    /// drop reasons; and each tenant's total the sum of its flows (every frame counted, nothing evicted).
    /// </summary>
    public static List<string> CompareFlows(JsonArray expected, JsonObject reply)
    {
        var problems = new List<string>();
        var actual = new List<string>();
        foreach (JsonNode? tenant in reply["tenants"]!.AsArray())
        {
            JsonArray flows = tenant!["flows"]!.AsArray();
            if ((ulong)tenant["other"]!["packets"]! != 0)
                problems.Add($"flows: tenant {tenant["tenant"]}: {tenant["other"]!.ToJsonString()} not named, with top 1000 and nothing evicted");
            ulong sum = flows.Aggregate(0UL, (total, f) => total + (ulong)f!["packets"]!);
            if ((ulong)tenant["packets"]! != sum)
                problems.Add($"flows: tenant {tenant["tenant"]}: {tenant["packets"]} packets in all, {sum} in its flows");
            foreach (JsonNode? flow in flows)
            {
                JsonObject f = flow!.DeepClone().AsObject();
                f.Remove("first_seen_s_ago");
                f.Remove("last_seen_s_ago");
                f["drops"] = new JsonArray([.. f["drops"]!.AsArray().Select(d => (string)d!).Order(StringComparer.Ordinal).Select(d => (JsonNode)d)]);
                f["tenant"] = (string?)tenant["tenant"];
                actual.Add(Canonical(f));
            }
        }
        List<string> want = [.. expected.Select(f => Canonical(f!.AsObject()))];
        problems.AddRange(want.Except(actual).Select(f => $"flows: expected, not reported: {f}"));
        problems.AddRange(actual.Except(want).Select(f => $"flows: reported, not expected: {f}"));
        return problems;
    }

    /// <summary>A flow's fields in name order, so two spellings of one flow compare equal.</summary>
    private static string Canonical(JsonObject flow) =>
        new JsonObject(flow.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone()))).ToJsonString();

    /// <summary>
    /// Each port's drops by reason add up to its drops, no reason counts more at the ports than
    /// host-wide, and each tenant's are the sums over its VMs' ports plus its tunnelled frames
    /// dropped on the uplink (<paramref name="uplinkDrops"/>: the model's tenant_uplink_drops).
    /// </summary>
    public static IEnumerable<string> DropReasonsAddUp(string source, JsonObject actual, JsonObject? uplinkDrops)
    {
        var atPorts = new Dictionary<string, long>();
        var byTenant = new Dictionary<string, Dictionary<string, long>>();
        foreach ((string tenant, JsonNode? reasons) in uplinkDrops ?? [])
            byTenant[tenant] = reasons!.AsObject().ToDictionary(r => r.Key, r => (long)r.Value!);
        foreach ((string name, JsonNode? port) in actual["ports"]!.AsObject())
        {
            JsonObject reasons = port!["drop_reasons"]!.AsObject();
            long sum = reasons.Sum(r => (long)r.Value!);
            if (sum != (long)port["drops"]!)
                yield return $"{source}: ports.{name}.drop_reasons add up to {sum}, its drops are {port["drops"]}";
            foreach ((string reason, JsonNode? n) in reasons)
                atPorts[reason] = atPorts.GetValueOrDefault(reason) + (long)n!;
            if ((string?)port["tenant"] is not { } tenant)
                continue;
            Dictionary<string, long> ofTenant = byTenant.TryGetValue(tenant, out var t) ? t : byTenant[tenant] = [];
            foreach ((string reason, JsonNode? n) in reasons)
                ofTenant[reason] = ofTenant.GetValueOrDefault(reason) + (long)n!;
        }
        JsonObject tenantDrops = actual["tenant_drops"]!.AsObject();
        foreach (string tenant in byTenant.Keys.Union(tenantDrops.Select(t => t.Key)))
        {
            string want = string.Join(", ", byTenant.GetValueOrDefault(tenant, []).OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}={r.Value}"));
            string got = string.Join(", ", (tenantDrops[tenant]?.AsObject() ?? []).OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}={r.Value}"));
            if (want != got)
                yield return $"{source}: tenant_drops.{tenant} is {{{got}}}, its VMs' ports and its uplink drops add up to {{{want}}}";
        }
        foreach ((string reason, long n) in atPorts)
        {
            if (n > (long)actual["drops"]![reason]!)
                yield return $"{source}: {n} {reason} drops at the ports, {actual["drops"]![reason]} host-wide";
        }
    }

    /// <summary>Every counter counters.json names, and every drop label (absent from counters.json = 0).</summary>
    public static List<string> CompareCounters(string source, PcapScenario scenario, JsonObject actual)
    {
        var problems = new List<string>();
        JsonObject expected = scenario.ExpectedCounters;
        void Check(string what, JsonNode? want, JsonNode? got)
        {
            long w = want is null ? 0 : (long)want;
            if (got is not JsonValue value || !value.TryGetValue(out long g))
                problems.Add($"{source}: {what} missing (expected {w})");
            else if (g != w)
                problems.Add($"{source}: {what} = {g}, expected {w}");
        }

        JsonObject? ports = actual["ports"] as JsonObject;
        foreach ((string port, JsonNode? counters) in expected["ports"]!.AsObject())
        {
            if (ports?[port] is not JsonObject got)
            {
                problems.Add($"{source}: no counters for port {port}");
                continue;
            }
            Check($"ports.{port}.rx", counters!["rx"], got["rx"]);
            Check($"ports.{port}.tx", counters["tx"], got["tx"]);
        }
        JsonObject wantDrops = expected["drops"]!.AsObject();
        JsonObject? gotDrops = actual["drops"] as JsonObject;
        problems.AddRange(DropReasonsAddUp(source, actual, expected["tenant_uplink_drops"] as JsonObject));
        if ((long?)actual["tenant_drops_unattributed"] is not 0)
            problems.Add($"{source}: tenant_drops_unattributed = {actual["tenant_drops_unattributed"]}, expected 0");
        foreach (string label in PcapScenario.DropLabels)
            Check($"drops.{label}", wantDrops[label], gotDrops?[label]);
        foreach ((string label, JsonNode? value) in gotDrops ?? [])
        {
            if (!PcapScenario.DropLabels.Contains(label) && value is JsonValue v && v.TryGetValue(out long n) && n != 0)
                problems.Add($"{source}: drops.{label} = {n}: a drop label the lane does not know");
        }
        foreach (string total in new[] { "unicast", "flooded", "arp_replies", "encapsulated", "decapsulated", "vtep_arp_replies", "neighbour_replies", "arp_requests_sent" })
            Check(total, expected[total], actual[total]);
        foreach ((string host, JsonNode? tunnel) in expected["tunnels"]?.AsObject() ?? [])
        {
            foreach ((string counter, JsonNode? value) in tunnel!.AsObject())
                Check($"tunnels.{host}.{counter}", value, actual["tunnels"]?[host]?[counter]);
        }
        return problems;
    }
}
