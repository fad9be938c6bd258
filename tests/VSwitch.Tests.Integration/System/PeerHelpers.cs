// The peer.py processes of one system-test run (PeerScripts.cs): agents that send a plan of
// crafted frames from an endpoint's namespace, and helpers such as the TCP server. All of them
// are stopped with the run: stdin closed (an agent keeps its UDP sink bound until then), a few
// seconds to exit, then killed.
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;

namespace VSwitch.Tests.Integration.SystemTests;

/// <param name="peerScript">peer.py as the topology wrote it.</param>
/// <param name="filePath">Where a run keeps a file of its own (the agents' plans).</param>
public sealed class PeerHelpers(string peerScript, Func<string, string> filePath)
{
    private static readonly TimeSpan AgentTimeout = TimeSpan.FromSeconds(60);
    private readonly List<BackgroundProcess> _running = [];

    /// <summary>Starts a peer.py agent in <paramref name="e"/>'s namespace with the plan <paramref name="frames"/>.</summary>
    public async Task<BackgroundProcess> StartAgentAsync(Endpoint e, IReadOnlyList<JsonObject> frames)
    {
        string plan = filePath($"{e.Short}.plan.json");
        var json = new JsonObject
        {
            ["iface"] = e.VmInterface,
            ["sink_port"] = PeerScripts.SinkPort,
            ["gap_s"] = 0.001,
            ["frames"] = new JsonArray([.. frames.Select(f => (JsonNode)f.DeepClone())]),
        };
        await File.WriteAllTextAsync(plan, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        BackgroundProcess agent = e.Ns.Start($"agent {e.Name}", Prerequisites.SystemPython, [peerScript, "agent", plan], redirectStdin: true);
        _running.Add(agent);
        return agent;
    }

    /// <summary>
    /// Starts agents, waits until all are ready (scapy loaded, sinks bound), lets them send at
    /// once, waits until all have sent; returns "agent NAME: FRAMES, ..." for the run's log.
    /// </summary>
    public async Task<string> RunAgentsAsync(IReadOnlyDictionary<Endpoint, List<JsonObject>> plans)
    {
        var agents = new List<(BackgroundProcess Agent, int Frames)>();
        foreach ((Endpoint e, List<JsonObject> frames) in plans)
            agents.Add((await StartAgentAsync(e, frames), frames.Sum(f => (int)f["count"]!)));
        await Task.WhenAll(agents.Select(a => a.Agent.WaitForLineAsync(l => l == $"ready {a.Frames}", AgentTimeout, $"'ready {a.Frames}'")));
        foreach (var (agent, _) in agents)
            await agent.WriteLineAsync("go");
        await Task.WhenAll(agents.Select(a => a.Agent.WaitForLineAsync(l => l == $"sent {a.Frames}", AgentTimeout, $"'sent {a.Frames}'")));
        return string.Join(", ", agents.Select(a => $"{a.Agent.Name}: {a.Frames}"));
    }

    /// <summary>Starts `peer.py <paramref name="peerArgs"/>` in <paramref name="e"/>'s namespace.</summary>
    public BackgroundProcess Start(Endpoint e, string label, params string[] peerArgs)
    {
        BackgroundProcess helper = e.Ns.Start(label, Prerequisites.SystemPython, [peerScript, .. peerArgs]);
        _running.Add(helper);
        return helper;
    }

    public async Task StopAllAsync()
    {
        foreach (BackgroundProcess p in _running)
        {
            p.CloseStdin();
            await p.WaitForExitAsync(TimeSpan.FromSeconds(5), throwOnTimeout: false);
            await p.DisposeAsync();
        }
        _running.Clear();
    }
}
