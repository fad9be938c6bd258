// Prometheus's text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format): each family
// once, its HELP and TYPE lines first and all its samples together; label values and help text
// escaped as the format says (backslash, newline, and in label values the double quote).
using System.Globalization;
using System.Text;

namespace VSwitch.Control.Agent.Metrics;

/// <summary>One sample: its labels in order, and its value.</summary>
public sealed record MetricSample(IReadOnlyList<KeyValuePair<string, string>> Labels, double Value);

/// <summary>A metric family: "counter" or "gauge", and its samples.</summary>
public sealed record MetricFamily(string Name, string Type, string Help, List<MetricSample> Samples);

public static class PrometheusText
{
    /// <summary>The Content-Type of this format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Write(IEnumerable<MetricFamily> families)
    {
        var text = new StringBuilder();
        foreach (MetricFamily family in families)
        {
            text.Append("# HELP ").Append(family.Name).Append(' ').Append(Escape(family.Help, quote: false)).Append('\n');
            text.Append("# TYPE ").Append(family.Name).Append(' ').Append(family.Type).Append('\n');
            foreach (MetricSample sample in family.Samples)
            {
                text.Append(family.Name);
                if (sample.Labels.Count > 0)
                    text.Append('{').AppendJoin(',', sample.Labels.Select(l => $"{l.Key}=\"{Escape(l.Value, quote: true)}\"")).Append('}');
                text.Append(' ').Append(Value(sample.Value)).Append('\n');
            }
        }
        return text.ToString();
    }

    private static string Value(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string Escape(string text, bool quote)
    {
        string escaped = text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
        return quote ? escaped.Replace("\"", "\\\"", StringComparison.Ordinal) : escaped;
    }
}
