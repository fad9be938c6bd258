// The host's VMs as Prometheus metrics (docs/agent.md, "Metrics"), read fresh at each scrape:
//   - each running vmm's own families (its API's `metrics` op, docs/vmm.md "API": vCPU run and
//     steal time, exits by reason, virtio and disk counters, serial bytes), every sample labelled
//     with its VM's name (`vm`) first, so one scrape of the agent covers every VM of the host;
//   - vswitch_agent_vmm_up{vm}: 1 when the VM's vmm answered, 0 when it runs but did not (then
//     its families are missing from this scrape, as Prometheus's own `up` says of a target);
//   - the agent's view: each VM's observed power state, each supervised child's starts and whether
//     it runs, and whether vswitchd and the VMs have converged.
// The vmms are asked at once, each with its own deadline: a stuck vmm costs its own families, not
// the scrape.
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Metrics;

public static class AgentMetrics
{
    /// <summary>A vmm answers in milliseconds; Prometheus's default scrape timeout is 10 s.</summary>
    private static readonly TimeSpan VmmTimeout = TimeSpan.FromSeconds(3);

    /// <summary>The exposition text for <paramref name="status"/> and the vmms it lists as running.</summary>
    /// <param name="paths">Where the VMs' vmm API sockets are; null for an agent that runs no VMs.</param>
    public static async Task<string> ScrapeAsync(AgentStatus status, RuntimePaths? paths, CancellationToken ct)
    {
        string[] vms = [.. status.Children
            .Where(c => c.State == "running" && c.Name.StartsWith(VmmChildren.ChildPrefix, StringComparison.Ordinal))
            .Select(c => c.Name[VmmChildren.ChildPrefix.Length..])
            .Order(StringComparer.Ordinal)];
        JsonArray?[] answers = paths is null ? new JsonArray?[vms.Length] : await Task.WhenAll(vms.Select(vm => VmmFamiliesAsync(paths.ApiSocket(vm), ct)));

        var families = new OrderedDictionary<string, MetricFamily>(StringComparer.Ordinal);
        var up = Family(families, "vswitch_agent_vmm_up", "gauge", "1 when the VM's running vmm answered this scrape's metrics request, 0 when it did not (its vmm_ families are missing then).");
        for (int i = 0; i < vms.Length; i++)
        {
            up.Samples.Add(Sample(answers[i] is null ? 0 : 1, ("vm", vms[i])));
            foreach (JsonNode? node in answers[i] ?? [])
                AddVmmFamily(families, vms[i], node);
        }

        var power = Family(families, "vswitch_agent_vm_power", "gauge", "1 for what each VM is doing as its vmm said at the agent's last pass (docs/agent.md, \"Power\").");
        foreach ((string vm, string state) in (status.Vms?.Power ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal))
            power.Samples.Add(Sample(1, ("vm", vm), ("state", state)));
        var starts = Family(families, "vswitch_agent_child_starts_total", "counter", "Starts of each supervised process (vswitchd, vmm-NAME), earlier agents' included once adopted.");
        var running = Family(families, "vswitch_agent_child_running", "gauge", "1 while the supervised process runs, 0 while it is stopping or waits to be restarted.");
        foreach (SupervisedChild child in status.Children.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            starts.Samples.Add(Sample(child.StartCount, ("child", child.Name)));
            running.Samples.Add(Sample(child.State == "running" ? 1 : 0, ("child", child.Name)));
        }
        var converged = Family(families, "vswitch_agent_converged", "gauge", "1 when that part of the host matched the desired state at the agent's last pass (docs/agent.md, \"GET /v1/status\").");
        if (status.Vswitchd is { } vswitchd)
            converged.Samples.Add(Sample(vswitchd.Converged ? 1 : 0, ("part", "vswitchd")));
        if (status.Vms is { } vmsConvergence)
            converged.Samples.Add(Sample(vmsConvergence.Converged ? 1 : 0, ("part", "vms")));
        return PrometheusText.Write(families.Values);
    }

    private static MetricFamily Family(OrderedDictionary<string, MetricFamily> families, string name, string type, string help)
    {
        if (!families.TryGetValue(name, out MetricFamily? family))
            families[name] = family = new MetricFamily(name, type, help, []);
        return family;
    }

    private static MetricSample Sample(double value, params (string Name, string Value)[] labels) =>
        new([.. labels.Select(l => KeyValuePair.Create(l.Name, l.Value))], value);

    /// <summary>One family of a vmm's reply, its samples labelled with <paramref name="vm"/>; a malformed one is skipped (the vmm is not the agent's to trust).</summary>
    private static void AddVmmFamily(OrderedDictionary<string, MetricFamily> families, string vm, JsonNode? node)
    {
        if (node is not JsonObject { } json || json["name"]?.GetValueKind() != System.Text.Json.JsonValueKind.String
            || !IsMetricName((string)json["name"]!) || json["samples"] is not JsonArray samples)
            return;
        string type = (string?)json["type"] is "gauge" ? "gauge" : "counter";
        MetricFamily family = Family(families, (string)json["name"]!, type, (string?)json["help"] ?? "");
        foreach (JsonObject sample in samples.OfType<JsonObject>())
        {
            if (sample["value"] is not JsonValue value || !value.TryGetValue(out double number))
                continue;
            List<KeyValuePair<string, string>> labels = [KeyValuePair.Create("vm", vm)];
            foreach ((string name, JsonNode? label) in sample["labels"] as JsonObject ?? [])
            {
                if (IsMetricName(name) && name != "vm" && label is JsonValue text && text.TryGetValue(out string? s))
                    labels.Add(KeyValuePair.Create(name, s));
            }
            family.Samples.Add(new MetricSample(labels, number));
        }
    }

    /// <summary>[a-zA-Z_][a-zA-Z0-9_]*: a metric or label name Prometheus accepts.</summary>
    private static bool IsMetricName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    /// <summary>The vmm's `metrics` families, or null when it does not answer in time or answers nothing usable.</summary>
    private static async Task<JsonArray?> VmmFamiliesAsync(string socket, CancellationToken ct)
    {
        try
        {
            return await ControlClient.WithinAsync(VmmTimeout, async token =>
            {
                await using ControlClient client = await ControlClient.ConnectAsync(socket, token);
                return (await client.RequestAsync(new JsonObject { ["op"] = "metrics" }, token))["metrics"] as JsonArray;
            }, ct);
        }
        catch (Exception e) when (e is TimeoutException or System.Net.Sockets.SocketException or IOException or ControlProtocolException
            or ControlRequestFailedException or InvalidDataException)
        {
            return null;
        }
    }
}
