// A daemon's control operations, one table from op name to handler: the server dispatches
// through it, and an unknown op is refused with the list of known ones, so the list in the
// error can never disagree with what is served.
using System.Text.Json.Nodes;

namespace VSwitch.Common.Control;

/// <summary>Answers one request: its fields (apart from "ok" and "id") become the reply's.</summary>
/// <exception cref="ControlException">For a bad request; the message names the field.</exception>
public delegate ValueTask<JsonObject> ControlOperation(JsonObject request, CancellationToken ct);

public sealed class ControlOperations : IControlHandler
{
    private readonly Dictionary<string, ControlOperation> _operations = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];

    /// <summary>The ops served, in the order they were added.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Adds <paramref name="op"/>; the table is built once, before the server starts.</summary>
    /// <exception cref="ArgumentException"><paramref name="op"/> is already in the table.</exception>
    public ControlOperations Add(string op, ControlOperation operation)
    {
        _operations.Add(op, operation);
        _names.Add(op);
        return this;
    }

    /// <summary>Adds <paramref name="op"/> for a handler that neither waits nor reads the request.</summary>
    public ControlOperations Add(string op, Func<JsonObject> operation) =>
        Add(op, (_, _) => ValueTask.FromResult(operation()));

    public ValueTask<JsonObject> HandleAsync(string op, JsonObject request, CancellationToken ct) =>
        _operations.TryGetValue(op, out ControlOperation? operation)
            ? operation(request, ct)
            : throw new ControlException($"unknown op '{op}' (expected {string.Join(", ", _names)})");

    /// <summary>Refuses a field of <paramref name="request"/> other than "op", "id" and <paramref name="fields"/>.</summary>
    /// <exception cref="ControlException">Names the first unknown field.</exception>
    public static void OnlyFields(JsonObject request, string op, params ReadOnlySpan<string> fields)
    {
        foreach (KeyValuePair<string, JsonNode?> property in request)
        {
            if (property.Key is "op" or "id" || fields.Contains(property.Key))
                continue;
            string known = fields.IsEmpty ? "\"op\" and \"id\"" : $"\"op\", \"id\", {string.Join(", ", fields.ToArray().Select(f => $"\"{f}\""))}";
            throw new ControlException($"{property.Key}: unknown field; {op} takes only {known}");
        }
    }
}
