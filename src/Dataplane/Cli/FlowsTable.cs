// `vswitchd ctl --table flows`: the flows report (Flows/FlowReport.cs) as a table for people, one
// line per flow and one per tenant for the rest of its traffic.
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace VSwitch.Dataplane.Cli;

public static class FlowsTable
{
    private static readonly string[] s_header = ["TENANT", "VNI", "PROTO", "SOURCE", "DESTINATION", "PACKETS", "BYTES", "LAST SEEN", "DROPS"];

    public static string Format(JsonObject reply)
    {
        var rows = new List<string[]> { s_header };
        foreach (JsonNode? tenant in reply["tenants"]?.AsArray() ?? [])
        {
            string name = (string?)tenant?["tenant"] ?? "(none)";
            foreach (JsonNode? flow in tenant?["flows"]?.AsArray() ?? [])
            {
                rows.Add([
                    name,
                    Text(flow?["vni"]),
                    (string?)flow?["protocol"] ?? (string?)flow?["ether_type"] ?? "",
                    Endpoint(flow, "source"),
                    Endpoint(flow, "destination"),
                    Text(flow?["packets"]),
                    Text(flow?["bytes"]),
                    $"{Text(flow?["last_seen_s_ago"])} s ago",
                    string.Join(',', flow?["drops"]?.AsArray().Select(d => (string?)d) ?? []),
                ]);
            }
            JsonNode? other = tenant?["other"];
            if ((ulong?)other?["packets"] is > 0)
                rows.Add([name, "", "", $"other ({Text(other?["flows"])} flows)", "", Text(other?["packets"]), Text(other?["bytes"]), "", ""]);
        }
        int[] widths = [.. Enumerable.Range(0, s_header.Length).Select(c => rows.Max(r => r[c].Length))];
        var text = new StringBuilder();
        foreach (string[] row in rows)
            text.AppendLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        return text.ToString().TrimEnd('\n');
    }

    // An IPv6 address before a port is bracketed (RFC 3986 section 3.2.2); only IP flows have ports.
    private static string Endpoint(JsonNode? flow, string side)
    {
        string address = (string?)flow?[side] ?? "";
        if (flow?[$"{side}_port"] is not { } port)
            return address;
        return address.Contains(':') ? $"[{address}]:{Text(port)}" : $"{address}:{Text(port)}";
    }

    private static string Text(JsonNode? value) => value is null ? "" : Convert.ToString(value.ToString(), CultureInfo.InvariantCulture);
}
