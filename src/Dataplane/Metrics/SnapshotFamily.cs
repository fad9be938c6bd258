// A metric family whose series are all set from one snapshot per scrape. vswitchd's counters live
// in the workers (lock-free, per worker); a scrape reads them once and sets every series here.
// A series not set by a scrape (a removed port, a flow that left the top N, a neighbour that
// changed state) is removed, so the families hold what the host has now and nothing more: the
// series count is bounded by the config, not by history (Prometheus, "Metric and label naming"
// and "Instrumentation: things to watch out for", https://prometheus.io/docs/practices/).
using Prometheus;

namespace VSwitch.Dataplane.Metrics;

internal abstract class SnapshotFamily
{
    private readonly HashSet<string> _set = new(StringComparer.Ordinal);

    /// <summary>Removes every series that this scrape did not set.</summary>
    public void EndScrape()
    {
        foreach (string[] labels in AllLabelValues())
        {
            if (!_set.Contains(Key(labels)))
                Remove(labels);
        }
        _set.Clear();
    }

    protected void MarkSet(string[] labels) => _set.Add(Key(labels));

    protected abstract IEnumerable<string[]> AllLabelValues();

    protected abstract void Remove(string[] labels);

    // Label values may hold any character but NUL (Prometheus's text format escapes the rest).
    private static string Key(string[] labels) => string.Join('\0', labels);
}

/// <summary>A counter family; a series whose source went back (a port re-added under its name) starts again, as Prometheus's rate() expects of a reset.</summary>
internal sealed class SnapshotCounter(Counter counter) : SnapshotFamily
{
    public void Set(double value, params string[] labels)
    {
        Counter.Child series = counter.WithLabels(labels);
        if (value < series.Value)
        {
            counter.RemoveLabelled(labels);
            series = counter.WithLabels(labels);
        }
        series.IncTo(value);
        MarkSet(labels);
    }

    protected override IEnumerable<string[]> AllLabelValues() => counter.GetAllLabelValues().ToList();

    protected override void Remove(string[] labels) => counter.RemoveLabelled(labels);
}

internal sealed class SnapshotGauge(Gauge gauge) : SnapshotFamily
{
    public void Set(double value, params string[] labels)
    {
        gauge.WithLabels(labels).Set(value);
        MarkSet(labels);
    }

    protected override IEnumerable<string[]> AllLabelValues() => gauge.GetAllLabelValues().ToList();

    protected override void Remove(string[] labels) => gauge.RemoveLabelled(labels);
}
