// A configuration file as a tree that does not depend on its syntax, so that one binder reads
// JSON and YAML and words their errors alike. The readers build it instead of deserialising
// straight into classes because a deserialiser stops at the first unknown field or mistyped
// value, where we want every problem reported, each under its field path.
namespace VSwitch.Dataplane.Config.Internal;

internal abstract record ConfigNode
{
    /// <summary>The node as an error message shows it: the value for a scalar, the kind otherwise.</summary>
    public abstract string Describe();
}

internal enum ScalarKind
{
    /// <summary>JSON null; in YAML an empty value, ~ or null. Read as "not given".</summary>
    Null,
    /// <summary>A JSON string; in YAML a quoted or block scalar.</summary>
    String,
    Number,
    Boolean,
    /// <summary>A YAML plain (unquoted) scalar: text that reads as a string or a number, as the field needs.</summary>
    Plain,
}

internal sealed record ScalarNode(string Text, ScalarKind Kind) : ConfigNode
{
    public override string Describe() => Kind switch
    {
        ScalarKind.Null => "null",
        ScalarKind.Number or ScalarKind.Boolean => Text,
        _ => $"'{Text}'",
    };
}

internal sealed record ListNode(IReadOnlyList<ConfigNode> Items) : ConfigNode
{
    public override string Describe() => "a list";
}

/// <summary>Fields in file order; a key given twice appears twice, for the binder to report.</summary>
internal sealed record MapNode(IReadOnlyList<KeyValuePair<string, ConfigNode>> Fields) : ConfigNode
{
    public override string Describe() => "a mapping";
}
