// Exact-count assertions that report every mismatch at once: a system test compares dozens of
// counters and capture tallies, and the first failing Assert.Equal alone rarely explains a bug.
using System.Text;
using Xunit;

namespace VSwitch.Tests.Integration.Infrastructure;

public sealed class ExpectedCounts(string scenario)
{
    private readonly List<(string What, long Expected, long Actual)> _checks = [];
    private readonly List<string> _failures = [];

    public void Equal(string what, long expected, long actual) => _checks.Add((what, expected, actual));

    public void AtLeast(string what, long minimum, long actual)
    {
        if (actual < minimum)
            _failures.Add($"{what}: expected at least {minimum}, got {actual}");
    }

    public void True(bool condition, string failure)
    {
        if (!condition)
            _failures.Add(failure);
    }

    public int MismatchCount => _checks.Count(c => c.Expected != c.Actual) + _failures.Count;

    /// <summary>Fails the test with a table of every mismatch, then <paramref name="context"/> (counters, frame dumps).</summary>
    public void Verify(Func<string>? context = null)
    {
        var mismatches = _checks.Where(c => c.Expected != c.Actual).ToList();
        if (mismatches.Count == 0 && _failures.Count == 0)
            return;
        var text = new StringBuilder($"{scenario}: {mismatches.Count + _failures.Count} of {_checks.Count + _failures.Count} checks failed\n");
        if (mismatches.Count > 0)
        {
            int width = mismatches.Max(m => m.What.Length);
            text.Append($"  {"what".PadRight(width)}  expected    actual\n");
            foreach (var (what, expected, actual) in mismatches)
                text.Append($"  {what.PadRight(width)}  {expected,8}  {actual,8}\n");
        }
        foreach (string failure in _failures)
            text.Append($"  {failure}\n");
        if (context is not null)
            text.Append('\n').Append(context());
        Assert.Fail(text.ToString());
    }

    /// <summary>
    /// The checks with a non-zero expectation or result, passed or not: what a test prints so a
    /// green run still documents its numbers (the many "must be 0" checks only count).
    /// </summary>
    public string Summary() =>
        $"{_checks.Count + _failures.Count} checks, {MismatchCount} failed; zero as expected: {_checks.Count(c => c.Expected == 0 && c.Actual == 0)}\n" +
        string.Join('\n', _checks.Where(c => c.Expected != 0 || c.Actual != 0)
            .Select(c => $"{c.What} = {c.Actual}{(c.Expected == c.Actual ? "" : $" (expected {c.Expected})")}"));
}
