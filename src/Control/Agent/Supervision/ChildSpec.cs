// One child the supervisor keeps running: its stable name (the key of its state file and log
// file, and how the agent refers to it), what to execute and how. Two specs are equal when they
// would start the same process, so the agent can hand over a freshly built desired set each
// time and only a real change restarts a child.
using System.Text.RegularExpressions;

namespace VSwitch.Control.Agent.Supervision;

public sealed partial record ChildSpec(
    string Name,
    string Executable,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Environment,
    string WorkingDirectory)
{
    /// <summary>How long this child has between SIGTERM and SIGKILL; null: the supervisor's <see cref="SupervisorOptions.StopTimeout"/>. Not part of equality: it changes how a child stops, not what runs.</summary>
    public TimeSpan? StopTimeout { get; init; }

    /// <summary>Lower-case letters, digits, '.', '_' and '-', starting with a letter or digit: a file name under the state and log directories on any file system, "vmm-" and an agent name (63) included.</summary>
    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,79}$")]
    private static partial Regex NamePattern();

    /// <summary>Checks what the supervisor relies on; the child's environment is exactly <see cref="Environment"/> (nothing of the agent's is passed on).</summary>
    /// <exception cref="ArgumentException">A field names the problem.</exception>
    public void Validate()
    {
        if (!NamePattern().IsMatch(Name))
            throw new ArgumentException($"child name '{Name}' must match {NamePattern()}");
        if (!Path.IsPathFullyQualified(Executable))
            throw new ArgumentException($"child '{Name}': executable '{Executable}' must be an absolute path");
        if (!Path.IsPathFullyQualified(WorkingDirectory))
            throw new ArgumentException($"child '{Name}': working directory '{WorkingDirectory}' must be an absolute path");
        foreach (string key in Environment.Keys)
        {
            if (key.Length == 0 || key.Contains('=') || key.Contains('\0'))
                throw new ArgumentException($"child '{Name}': environment variable name '{key}' must be non-empty, without '=' or NUL");
        }
        if (Arguments.Any(a => a.Contains('\0')) || Environment.Values.Any(v => v.Contains('\0')))
            throw new ArgumentException($"child '{Name}': arguments and environment values cannot hold NUL");
    }

    public bool Equals(ChildSpec? other) =>
        other is not null
        && Name == other.Name
        && Executable == other.Executable
        && WorkingDirectory == other.WorkingDirectory
        && Arguments.SequenceEqual(other.Arguments)
        && Environment.Count == other.Environment.Count
        && Environment.All(e => other.Environment.TryGetValue(e.Key, out string? v) && v == e.Value);

    public override int GetHashCode() => HashCode.Combine(Name, Executable, WorkingDirectory, Arguments.Count, Environment.Count);
}
