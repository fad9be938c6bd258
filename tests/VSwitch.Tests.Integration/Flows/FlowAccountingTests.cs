// Flow accounting in a running vswitchd (src/Dataplane/Flows), read over its control socket:
// VM a of tenant red sends four UDP flows of known sizes (one of them from a spoofed source, so
// dropped), VM c of tenant blue one more, each frame once (net_pcap without infinite_rx). The
// flows op must give every figure exactly, the largest N by name and the rest under "other",
// and a tenant that leaves must not hand its flows to the next tenant that takes its index.
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VSwitch.Dataplane.Cli;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;
using static VSwitch.Tests.Integration.Dataplane.RunningOverlayTests;

namespace VSwitch.Tests.Integration.Flows;

public sealed partial class FlowAccountingTests() : RunningVswitchd("flows", TimeSpan.FromSeconds(60))
{
    private const string MacC = "02:00:00:00:00:03", MacD = "02:00:00:00:00:04", MacE = "02:00:00:00:00:05";
    // (source port, frames) of red's flows from a to b; the last one's source address is not a's.
    private static readonly (ushort Port, int Frames)[] s_red = [(1000, 30), (1001, 20), (1002, 10), (1003, 5)];
    private const int BlueFrames = 7;
    private const int Payload = 18;
    private static readonly int s_frameBytes = Udp(MacA, MacB, "10.0.0.1", "10.0.0.2", 1, Payload).Length;

    private string Socket => Path.Combine(_dir, "vswitchd.sock");

    public override async ValueTask InitializeAsync()
    {
        // Interleaved, as flows arrive on a real port.
        var red = new List<byte[]>();
        for (int round = 0; round < s_red.Max(f => f.Frames); round++)
        {
            foreach ((ushort port, int frames) in s_red)
            {
                if (round < frames)
                    red.Add(Udp(MacA, MacB, port == 1003 ? "10.0.0.9" : "10.0.0.1", "10.0.0.2", port, Payload));
            }
        }
        string redInput = Path.Combine(_dir, "red.pcap"), blueInput = Path.Combine(_dir, "blue.pcap");
        PcapFile.Write(redInput, red);
        PcapFile.Write(blueInput, Enumerable.Repeat(Udp(MacC, MacD, "10.0.0.1", "10.0.0.2", 2000, Payload), BlueFrames));
        var config = new VswitchdConfig(
            FilePrefix: _prefix,
            Ports:
            [
                new("vm-a", $"net_pcap0,rx_pcap={redInput}"),
                new("vm-b", "net_null0,no-rx=1"),
                new("vm-c", $"net_pcap1,rx_pcap={blueInput}"),
                new("vm-d", "net_null1,no-rx=1"),
            ],
            Tenants:
            [
                new("red", [new("a", "vm-a", MacA, ["10.0.0.1"]), new("b", "vm-b", MacB, ["10.0.0.2"])]),
                // Blue uses red's addresses: tenants are told apart by the tenant, not the address.
                new("blue", [new("c", "vm-c", MacC, ["10.0.0.1"]), new("d", "vm-d", MacD, ["10.0.0.2"])]),
            ],
            ControlSocket: Socket,
            PcapDir: _dir)
        {
            Flows = new JsonObject { ["enabled"] = true, ["table_size"] = 1024, ["top"] = 2 },
        };
        _vswitchd = await VswitchdProcess.StartAsync(config, Path.Combine(_dir, "vswitchd.json"), VswitchdReady.ControlSocket);
        await CountersAfter((ulong)(s_red.Sum(f => f.Frames) + BlueFrames));
    }

    private static JsonObject TenantOf(JsonObject report, string? tenant) =>
        report["tenants"]!.AsArray().Select(t => t!.AsObject()).Single(t => (string?)t["tenant"] == tenant);

    [Fact]
    public async Task Each_flow_is_counted_exactly_the_top_N_are_named_and_the_rest_is_summed_per_tenant()
    {
        // The configured top (2) by default: red's two largest flows, its other two summed.
        JsonObject report = await Request("flows");
        Assert.Equal(2, (int)report["top"]!);
        JsonObject red = TenantOf(report, "red");
        JsonArray flows = red["flows"]!.AsArray();
        Assert.Equal([1000, 1001], flows.Select(f => (int)f!["source_port"]!));
        foreach ((JsonNode? flow, (ushort _, int frames)) in flows.Zip(s_red))
        {
            Assert.Equal(("udp", "10.0.0.1", "10.0.0.2", 4000, 0u), ((string)flow!["protocol"]!, (string)flow["source"]!, (string)flow["destination"]!, (int)flow["destination_port"]!, (uint)flow["vni"]!));
            Assert.Equal(((ulong)frames, (ulong)(frames * s_frameBytes)), ((ulong)flow["packets"]!, (ulong)flow["bytes"]!));
            Assert.Empty(flow["drops"]!.AsArray());
        }
        Assert.Equal((15ul, 2ul), ((ulong)red["other"]!["packets"]!, (ulong)red["other"]!["flows"]!));
        Assert.Equal((ulong)s_red.Sum(f => f.Frames), (ulong)red["packets"]!);
        JsonObject blue = TenantOf(report, "blue");
        Assert.Equal(((ulong)BlueFrames, 0ul), ((ulong)blue["flows"]![0]!["packets"]!, (ulong)blue["other"]!["packets"]!));
        Assert.Equal("red", (string?)report["tenants"]![0]!["tenant"]); // largest tenant first

        // All four of red's flows by name; the spoofed one carries the reason its frames were dropped.
        JsonObject all = TenantOf(await Request("flows", new JsonObject { ["tenant"] = "red", ["top"] = 10 }), "red");
        Assert.Equal(4, all["flows"]!.AsArray().Count);
        JsonNode spoofed = all["flows"]!.AsArray().Single(f => (int)f!["source_port"]! == 1003)!;
        Assert.Equal(("10.0.0.9", 5ul), ((string)spoofed["source"]!, (ulong)spoofed["packets"]!));
        Assert.Equal(["spoofed_ipv4_source"], spoofed["drops"]!.AsArray().Select(d => (string)d!));
        Assert.Equal(0ul, (ulong)all["other"]!["packets"]!);
    }

    [Fact]
    public async Task Bad_requests_are_refused_naming_the_field()
    {
        Assert.Contains("tenant: no tenant named 'green'", await RefusalOf(new JsonObject { ["tenant"] = "green" }));
        Assert.Contains("top: 0 is out of range (1..1000)", await RefusalOf(new JsonObject { ["top"] = 0 }));
        Assert.Contains("top", await RefusalOf(new JsonObject { ["top"] = "many" }));
        Assert.Contains("colour", await RefusalOf(new JsonObject { ["colour"] = "red" }));
    }

    private async Task<string> RefusalOf(JsonObject fields)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = await ControlCli.RunAsync(["--socket", Socket, "--json", new JsonObject(fields.Select(f => KeyValuePair.Create(f.Key, f.Value?.DeepClone()))) { ["op"] = "flows" }.ToJsonString()],
            stdout, stderr, TestContext.Current.CancellationToken);
        Assert.True(exit == ControlCli.ExitRefused, $"exit {exit}\n{stdout}\n{stderr}");
        return stderr.ToString();
    }

    [GeneratedRegex(@"^red\s+0\s+udp\s+10\.0\.0\.1:1000\s+10\.0\.0\.2:4000\s+30\s+(\d+)\s+[\d.]+ s ago\s*$", RegexOptions.Multiline)]
    private static partial Regex LargestRedRow();

    [Fact]
    public async Task Ctl_prints_the_flows_as_a_table_for_people()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = await ControlCli.RunAsync(["--socket", Socket, "--table", "flows", "tenant=red", "top=1"], stdout, stderr, TestContext.Current.CancellationToken);
        string table = stdout.ToString();
        Assert.True(exit == ControlCli.ExitOk, $"exit {exit}\n{table}\n{stderr}");
        Assert.StartsWith("TENANT  VNI  PROTO  SOURCE", table);
        Assert.Equal($"{30 * s_frameBytes}", LargestRedRow().Match(table).Groups[1].Value);
        Assert.Matches(@"(?m)^red\s+other \(3 flows\)\s+35\s+\d+$", table);

        // --table for an op without a table form is a usage error, before anything is sent.
        exit = await ControlCli.RunAsync(["--socket", Socket, "--table", "counters"], stdout, stderr = new StringWriter(), TestContext.Current.CancellationToken);
        Assert.Equal((ControlCli.ExitUsage, true), (exit, stderr.ToString().Contains("--table: op 'counters' has no table form (ops with one: flows)")));
    }

    [Fact]
    public async Task A_tenant_that_leaves_hands_none_of_its_flows_to_the_next_tenant_at_its_index()
    {
        Assert.Equal((ulong)BlueFrames, (ulong)TenantOf(await Request("flows"), "blue")["packets"]!);
        await Request("remove-vm", new JsonObject { ["name"] = "c" });
        await Request("remove-vm", new JsonObject { ["name"] = "d" }); // blue's last VM: blue goes, and its index is free
        await Request("add-vm", new JsonObject { ["tenant"] = "green", ["name"] = "g", ["port"] = "vm-c", ["mac"] = MacC, ["ipv4"] = new JsonArray("10.0.0.1") });
        Assert.Equal(["red", "green"], (await Request("list"))["tenants"]!.AsArray().Select(t => (string)t!["name"]!));

        // Red's indexes did not shift, but the tables start over with the new layout: a new red VM's
        // frames are all red has, and green, at blue's old index, has nothing.
        string late = Path.Combine(_dir, "late.pcap");
        // The port receives before its VM is bound (those frames are unbound_port drops, in no
        // flow), so its input loops until the VM is there.
        PcapFile.Write(late, [Udp(MacE, MacB, "10.0.0.5", "10.0.0.2", 3000, Payload)]);
        await Request("add-port", new JsonObject { ["name"] = "vm-e", ["devargs"] = $"net_pcap9,rx_pcap={late},infinite_rx=1" });
        await Request("add-vm", new JsonObject { ["tenant"] = "red", ["name"] = "e", ["port"] = "vm-e", ["mac"] = MacE, ["ipv4"] = new JsonArray("10.0.0.5") });
        JsonObject counters = await Request("counters");
        await CountersAfter((ulong)counters["workers"]![0]!["packets"]! + 1000);
        JsonArray tenants = (await Request("flows"))["tenants"]!.AsArray();
        JsonNode red = Assert.Single(tenants)!;
        Assert.Equal("red", (string?)red["tenant"]);
        JsonNode flow = Assert.Single(red["flows"]!.AsArray())!;
        Assert.Equal(3000, (int)flow["source_port"]!);
        // All of red's traffic is that flow. The input loops on while the two are read, one after
        // the other, and a worker adds to the totals once a burst: they may differ by a few bursts.
        long total = (long)red["packets"]!, counted = (long)flow["packets"]!;
        Assert.True(Math.Abs(total - counted) <= 4 * 32 + total / 100, $"red's total {total} packets, its one flow {counted}");
    }
}
