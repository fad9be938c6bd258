// A plan is built as a JSON node tree and written as the text its daemon reads: JSON for a vmm
// spec, block YAML for vswitchd's configuration (a file an operator reads, and vswitchd's
// documented format). Keys keep the order they were added in and nothing depends on a clock or
// a hash seed, so one input always gives the same bytes: the agent can compare a plan with the
// file it wrote last and restart a daemon only when its input changed.
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VSwitch.Control.Agent.Plan;

internal static class PlanText
{
    // Relaxed: a path or devargs with '+' or '&' stays readable. Control characters, '"' and '\'
    // are still escaped, and JSON's escapes are YAML's too (YAML 1.2, 5.7).
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions Flat = new(Options) { WriteIndented = false };

    /// <summary>An object of the fields whose value is given: both daemons read a field left out as its default, but a JSON null as an error.</summary>
    public static JsonObject Object(params (string Key, JsonNode? Value)[] fields)
    {
        var node = new JsonObject();
        foreach ((string key, JsonNode? value) in fields)
        {
            if (value is not null)
                node[key] = value;
        }
        return node;
    }

    public static JsonArray Array(IEnumerable<JsonNode> items) => [.. items];

    public static string Json(JsonObject root) => root.ToJsonString(Options) + "\n";

    /// <summary>
    /// Block YAML: mappings and lists of mappings as blocks, every scalar and every list of
    /// scalars as JSON text. A quoted scalar is always a string, so no value can turn into a
    /// YAML boolean, number or null ("no", "0x10", "~") on the way.
    /// </summary>
    public static string Yaml(JsonObject root, string headerComment)
    {
        var text = new StringBuilder();
        foreach (string line in headerComment.Split('\n'))
            text.Append("# ").Append(line).Append('\n');
        WriteMapping(root, "", "", text);
        return text.ToString();
    }

    /// <param name="firstPrefix">What comes before the first key: the indent, or the indent and "- " for a list item.</param>
    private static void WriteMapping(JsonObject map, string indent, string firstPrefix, StringBuilder text)
    {
        string prefix = firstPrefix;
        foreach ((string key, JsonNode? value) in map)
        {
            text.Append(prefix).Append(key).Append(':');
            prefix = indent;
            switch (value)
            {
                case JsonObject { Count: > 0 } child:
                    text.Append('\n');
                    WriteMapping(child, indent + "  ", indent + "  ", text);
                    break;
                case JsonArray { Count: > 0 } list when list.All(item => item is JsonObject { Count: > 0 }):
                    text.Append('\n');
                    foreach (JsonNode? item in list)
                        WriteMapping((JsonObject)item!, indent + "    ", indent + "  - ", text);
                    break;
                default:
                    text.Append(' ').Append(value!.ToJsonString(Flat)).Append('\n');
                    break;
            }
        }
    }
}
