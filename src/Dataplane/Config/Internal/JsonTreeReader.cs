using System.Text.Json;

namespace VSwitch.Dataplane.Config.Internal;

internal static class JsonTreeReader
{
    /// <summary>Returns the tree, or null after adding the syntax error.</summary>
    public static ConfigNode? Read(string text, ConfigErrors errors)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(text);
            return Convert(document.RootElement);
        }
        catch (JsonException e)
        {
            // JsonException counts lines and bytes from zero; editors count from one. The column is
            // a byte offset, the same as a character column for the ASCII a config file is written in.
            string at = e.LineNumber is long line ? $"line {line + 1}, column {e.BytePositionInLine + 1}: " : "";
            errors.Add("", $"{at}syntax error: {Reworded(e.Message)}");
            return null;
        }
        catch (InvalidOperationException e)
        {
            // JsonDocument unescapes a string only when it is read: an escaped surrogate without its
            // pair ("\ud800") passes the parse and fails in Convert, with no position.
            errors.Add("", $"syntax error: {e.Message}");
            return null;
        }
    }

    private static ConfigNode Convert(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => new MapNode(element.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, Convert(p.Value))).ToArray()),
        JsonValueKind.Array => new ListNode(element.EnumerateArray().Select(Convert).ToArray()),
        JsonValueKind.String => new ScalarNode(element.GetString()!, ScalarKind.String),
        JsonValueKind.Number => new ScalarNode(element.GetRawText(), ScalarKind.Number),
        JsonValueKind.True or JsonValueKind.False => new ScalarNode(element.GetRawText(), ScalarKind.Boolean),
        _ => new ScalarNode("", ScalarKind.Null),
    };

    // The message repeats the position as " LineNumber: 2 | BytePositionInLine: 1." (sometimes
    // after " Path: $ |"), which we already give in our own words; and some messages advise
    // changing the reader's options, which is advice for the programmer, not for the file's author.
    private static string Reworded(string message)
    {
        int cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut < 0)
            cut = message.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        return (cut < 0 ? message : message[..cut])
            .Replace(" in this mode. Change the reader options.", ".", StringComparison.Ordinal);
    }
}
