// How vswctl prints what the agent answers: `-o table` (the default) for people, aligned columns
// for a list and "key: value" lines for one resource; `-o json` the API's own JSON for scripts.
// A resource's fields are declared once (Field) and serve both the list's columns and the show
// lines, under the API's names, so the words a person reads are the ones an error names.
using System.Text.Json;
using VSwitch.Control.Api;

namespace VSwitch.Control.Vswctl;

/// <summary>One field of a resource as vswctl prints it.</summary>
/// <param name="Name">The field's API (JSON) name: the show line's key; upper case, the list's header.</param>
/// <param name="Listed">Whether a list has a column for it; show prints every field.</param>
internal sealed record Field<T>(string Name, Func<T, string?> Text, bool Listed = true)
{
    /// <summary>What a field without a value prints: a visible mark, so columns stay aligned.</summary>
    public const string None = "-";

    public string Header => Name.ToUpperInvariant().Replace('_', ' ');

    public string Of(T resource) => Text(resource) is { Length: > 0 } text ? text : None;
}

internal enum OutputFormat { Table, Json }

internal sealed class Printer(TextWriter stdout, OutputFormat format)
{
    public const string TableName = "table";
    public const string JsonName = "json";

    public static OutputFormat Parse(string name) => name == JsonName ? OutputFormat.Json : OutputFormat.Table;

    /// <summary>One resource: "key: value" lines, or its JSON object.</summary>
    public void Show<T>(T resource, IReadOnlyList<Field<T>> fields)
    {
        if (format == OutputFormat.Json)
        {
            Json(resource);
            return;
        }
        int width = fields.Max(f => f.Name.Length) + 1;
        foreach (Field<T> field in fields)
            stdout.WriteLine($"{(field.Name + ":").PadRight(width)}  {field.Of(resource)}".TrimEnd());
    }

    /// <summary>A collection: a header and one row per resource, or its JSON array.</summary>
    public void List<T>(IReadOnlyList<T> resources, IReadOnlyList<Field<T>> fields)
    {
        if (format == OutputFormat.Json)
        {
            Json(resources);
            return;
        }
        Field<T>[] columns = [.. fields.Where(f => f.Listed)];
        List<string[]> rows = [[.. columns.Select(c => c.Header)], .. resources.Select(r => columns.Select(c => c.Of(r)).ToArray())];
        int[] widths = [.. columns.Select((_, c) => rows.Max(row => row[c].Length))];
        foreach (string[] row in rows)
            stdout.WriteLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
    }

    private void Json<T>(T value) => stdout.WriteLine(JsonSerializer.Serialize(value, AgentJson.Options));
}
