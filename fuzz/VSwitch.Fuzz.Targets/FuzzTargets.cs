// Every fuzz target, by the name `fuzz/run TARGET MINUTES` and the corpus folder use
// (fuzz/corpus/<name>/). A target takes the fuzzer's bytes, hands them to one entry point the way
// its real caller does, and throws when an invariant breaks; any exception that escapes is a
// crash. Adding a target is one line here, one corpus folder and a few seed files.
namespace VSwitch.Fuzz.Targets;

public delegate void FuzzTarget(ReadOnlySpan<byte> input);

public static class FuzzTargets
{
    public static readonly IReadOnlyDictionary<string, FuzzTarget> All = new Dictionary<string, FuzzTarget>(StringComparer.Ordinal)
    {
        ["l2switch"] = SwitchTarget.Run,
        ["decapsulation"] = DecapsulationTarget.Run,
        ["config-yaml"] = ConfigTarget.RunYaml,
        ["config-json"] = ConfigTarget.RunJson,
        ["control-message"] = ControlMessageTarget.Run,
        ["virtqueue"] = VirtqueueTarget.Run,
        ["net-control"] = VirtqueueTarget.RunNetControl,
    };
}

/// <summary>An invariant of a fuzz target does not hold: the input found a bug.</summary>
public sealed class FuzzInvariantException(string message, Exception? inner = null) : Exception(message, inner);
