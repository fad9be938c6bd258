// The totals of the counters report (docs/control-socket.md, "counters"): every outcome counter
// of WorkerCounters under its field name in snake_case, so a counter added there is reported
// with no line here (VPP declares each node's counters once the same way).
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VSwitch.Dataplane.Counters;

internal static class CounterReport
{
    /// <summary>Adds each outcome counter of <paramref name="sum"/> (WorkerCounters.Sum) to <paramref name="report"/>.</summary>
    public static void AddTotals(JsonObject report, WorkerCounters sum)
    {
        foreach (FieldInfo field in WorkerCounters.Outcomes)
            report[JsonNamingPolicy.SnakeCaseLower.ConvertName(field.Name)] = (ulong)field.GetValue(sum)!;
    }
}
