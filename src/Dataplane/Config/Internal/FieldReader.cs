using System.Globalization;

namespace VSwitch.Dataplane.Config.Internal;

/// <summary>
/// Reads the fields of one mapping, each asked for by name and type. A field that is never asked
/// for is unknown, so the list of accepted fields is exactly the code that reads them and cannot
/// drift from it. A mistyped value is reported and read as "not given", so reading goes on.
/// </summary>
internal sealed class FieldReader
{
    private readonly MapNode _map;
    private readonly ConfigErrors _errors;
    private readonly List<string> _known = [];

    private FieldReader(MapNode map, string path, ConfigErrors errors)
    {
        _map = map;
        Path = path;
        _errors = errors;
    }

    /// <summary>Where this mapping is: "" for the top level, "tenants[0].vms[1]" further in.</summary>
    public string Path { get; }

    /// <summary>
    /// Binds <paramref name="node"/> with <paramref name="bind"/> and then reports its duplicate and
    /// unknown fields; returns null (after reporting) when the node is not a mapping.
    /// </summary>
    public static T? Read<T>(ConfigNode node, string path, ConfigErrors errors, Func<FieldReader, T> bind) where T : class
    {
        if (node is not MapNode map)
        {
            errors.Add(path, $"expected a mapping, got {node.Describe()}");
            return null;
        }
        var reader = new FieldReader(map, path, errors);
        T value = bind(reader);
        reader.ReportDuplicateAndUnknownFields();
        return value;
    }

    /// <summary>Takes <paramref name="keys"/> as known without reading them (a request's "op" and "id", which the server reads).</summary>
    public void Accept(params ReadOnlySpan<string> keys)
    {
        foreach (string key in keys)
            _known.Add(key);
    }

    public string PathOf(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public string? String(string key) => Field(key) is { } node ? AsString(node, PathOf(key)) : null;

    public int? Int(string key) => Field(key) is { } node ? AsInt(node, PathOf(key)) : null;

    public bool? Bool(string key) => Field(key) is { } node ? AsBool(node, PathOf(key)) : null;

    /// <summary>A list of strings; an item of the wrong type is reported and kept as null, so later indexes stay right.</summary>
    public IReadOnlyList<string?>? StringList(string key) => List(key, AsString);

    public IReadOnlyList<int?>? IntList(string key) => List(key, AsInt);

    /// <summary>A list of mappings; an item that is not a mapping is reported and left out.</summary>
    public IReadOnlyList<T>? MappingList<T>(string key, Func<FieldReader, T> bind) where T : class =>
        List(key, (node, path) => Read(node, path, _errors, bind))?.OfType<T>().ToArray();

    public T? Mapping<T>(string key, Func<FieldReader, T> bind) where T : class =>
        Field(key) is { } node ? Read(node, PathOf(key), _errors, bind) : null;

    /// <summary>The field's node; null when it is absent or null, which both mean "not given".</summary>
    private ConfigNode? Field(string key)
    {
        _known.Add(key);
        foreach ((string name, ConfigNode node) in _map.Fields)
        {
            if (name == key)
                return node is ScalarNode { Kind: ScalarKind.Null } ? null : node;
        }
        return null;
    }

    private IReadOnlyList<TItem?>? List<TItem>(string key, Func<ConfigNode, string, TItem?> item)
    {
        ConfigNode? node = Field(key);
        if (node is null)
            return null;
        if (node is not ListNode list)
        {
            _errors.Add(PathOf(key), $"expected a list, got {node.Describe()}");
            return null;
        }
        return list.Items.Select((child, i) => item(child, $"{PathOf(key)}[{i}]")).ToArray();
    }

    private string? AsString(ConfigNode node, string path)
    {
        if (node is ScalarNode { Kind: ScalarKind.String or ScalarKind.Plain } scalar)
            return scalar.Text;
        _errors.Add(path, $"expected a string, got {node.Describe()}");
        return null;
    }

    private int? AsInt(ConfigNode node, string path)
    {
        if (node is ScalarNode { Kind: ScalarKind.Number or ScalarKind.Plain } scalar && TryParseInteger(scalar.Text, out long value))
        {
            if (value is >= int.MinValue and <= int.MaxValue)
                return (int)value;
            _errors.Add(path, $"{value} is out of range");
            return null;
        }
        _errors.Add(path, $"expected an integer, got {node.Describe()}");
        return null;
    }

    /// <summary>true or false: a JSON boolean, or a YAML plain scalar spelt so (YAML 1.2 core schema, lower case).</summary>
    private bool? AsBool(ConfigNode node, string path)
    {
        if (node is ScalarNode { Kind: ScalarKind.Boolean or ScalarKind.Plain, Text: "true" or "false" } scalar)
            return scalar.Text == "true";
        _errors.Add(path, $"expected true or false, got {node.Describe()}");
        return null;
    }

    /// <summary>Decimal, or hexadecimal with 0x as YAML 1.2 writes it (GENEVE option classes and types are hex by custom).</summary>
    private static bool TryParseInteger(string text, out long value) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && value >= 0
            : long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    private void ReportDuplicateAndUnknownFields()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string name, _) in _map.Fields)
        {
            if (!seen.Add(name))
                _errors.Add(PathOf(name), "is given more than once");
            else if (!_known.Contains(name))
                _errors.Add(PathOf(name), $"unknown field (expected one of: {string.Join(", ", _known)})");
        }
    }
}
