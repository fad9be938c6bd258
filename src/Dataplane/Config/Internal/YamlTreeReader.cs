using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace VSwitch.Dataplane.Config.Internal;

/// <summary>
/// Builds the tree from YamlDotNet's parser events rather than its YamlStream, which would have
/// to be walked again into our tree anyway, and which turns a duplicate key into a fatal error
/// where the binder reports it alongside the others.
/// </summary>
internal static class YamlTreeReader
{
    /// <summary>Returns the tree of the file's one document, or null after adding the syntax error.</summary>
    public static ConfigNode? Read(string text, ConfigErrors errors)
    {
        if (DirectiveLine(text) is int line)
        {
            errors.Add("", $"line {line}: syntax error: a YAML directive ('%' at the start of a line); the configuration takes none");
            return null;
        }
        var parser = new Parser(new StringReader(text));
        try
        {
            parser.Consume<StreamStart>();
            if (parser.Accept<StreamEnd>(out _))
            {
                errors.Add("", "the file is empty");
                return null;
            }
            parser.Consume<DocumentStart>();
            ConfigNode root = ReadNode(parser, new Dictionary<AnchorName, ConfigNode>(), depth: 1);
            parser.Consume<DocumentEnd>();
            if (parser.Accept<DocumentStart>(out DocumentStart? second))
            {
                errors.Add("", $"line {second.Start.Line}: syntax error: a second YAML document; the file must hold exactly one");
                return null;
            }
            return root;
        }
        catch (YamlException e)
        {
            errors.Add("", $"line {e.Start.Line}, column {e.Start.Column}: syntax error: {e.Message}");
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet 16.3 throws these with no position: its scanner an InvalidOperationException
            // on some unclosed flow collections ("a: [1, 2" followed by more lines), its parser an
            // ArgumentException on a tag it cannot name ("!<>", "!!=["). The last event parsed is the best hint.
            Mark last = parser.Current?.End ?? Mark.Empty;
            errors.Add("", $"line {last.Line}, column {last.Column}: syntax error after this point "
                + (e is ArgumentException
                    ? "(a tag that is not a valid tag name: YAML tags are '!name', '!!name' or '!<URI>')"
                    : "(the YAML parser gives no detail; an unclosed '[' or '{' is a common cause)"));
            return null;
        }
    }

    /// <summary>
    /// The first line that starts with '%', a YAML directive (%YAML, %TAG: YAML 1.2 section 6.8),
    /// or null. A configuration has no use for one, and YamlDotNet 16.3's scanner can spin for a
    /// minute on a directive that ends the input (found by `fuzz/run config-yaml`; the inputs are
    /// in fuzz/crashes-fixed/config-yaml/), so they are refused before it reads the text. A line
    /// starts after any break YamlDotNet's scanner takes for one: LF, CR (alone or before LF),
    /// and the YAML 1.1 breaks NEL, LS and PS; the second fuzzed hang hid its '%' behind a lone CR.
    /// </summary>
    private static int? DirectiveLine(string text)
    {
        int line = 1;
        bool lineStart = true;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '%' && lineStart)
                return line;
            bool crBeforeLf = c == '\r' && i + 1 < text.Length && text[i + 1] == '\n';
            lineStart = c is '\n' or '\r' or '\u0085' or '\u2028' or '\u2029';
            if (lineStart && !crBeforeLf)
                line++;
        }
        return null;
    }

    /// <summary>
    /// How deep lists and mappings may nest: a configuration needs four levels, and JSON's reader
    /// stops at the same 64. The tree is read by recursion, so without a bound 29 KB of '{' (found
    /// by `fuzz/run config-yaml`) overflowed the stack and killed the process.
    /// </summary>
    public const int MaxDepth = 64;

    private static ConfigNode ReadNode(IParser parser, Dictionary<AnchorName, ConfigNode> anchors, int depth)
    {
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            // Anchors are registered once their node is complete, so an alias cannot form a cycle.
            return anchors.TryGetValue(alias.Value, out ConfigNode? target)
                ? target
                : throw new YamlException(alias.Start, alias.End, $"alias *{alias.Value} names no anchor defined before it");
        }

        NodeEvent start = parser.Consume<NodeEvent>();
        if (depth > MaxDepth && start is SequenceStart or MappingStart)
            throw new YamlException(start.Start, start.End, $"lists and mappings nest deeper than {MaxDepth} levels");
        ConfigNode node = start switch
        {
            Scalar scalar => ReadScalar(scalar),
            SequenceStart => ReadList(parser, anchors, depth),
            MappingStart => ReadMap(parser, anchors, depth),
            _ => throw new YamlException(start.Start, start.End, $"unexpected {start.GetType().Name}"),
        };
        if (!start.Anchor.IsEmpty)
            anchors[start.Anchor] = node;
        return node;
    }

    private static ScalarNode ReadScalar(Scalar scalar)
    {
        if (scalar.Style != ScalarStyle.Plain)
            return new ScalarNode(scalar.Value, ScalarKind.String);
        // The YAML 1.2 core schema's spellings of null.
        return scalar.Value is "" or "~" or "null" or "Null" or "NULL"
            ? new ScalarNode("", ScalarKind.Null)
            : new ScalarNode(scalar.Value, ScalarKind.Plain);
    }

    private static ListNode ReadList(IParser parser, Dictionary<AnchorName, ConfigNode> anchors, int depth)
    {
        var items = new List<ConfigNode>();
        while (!parser.TryConsume<SequenceEnd>(out _))
            items.Add(ReadNode(parser, anchors, depth + 1));
        return new ListNode(items);
    }

    private static MapNode ReadMap(IParser parser, Dictionary<AnchorName, ConfigNode> anchors, int depth)
    {
        var fields = new List<KeyValuePair<string, ConfigNode>>();
        while (!parser.TryConsume<MappingEnd>(out _))
        {
            ParsingEvent keyStart = parser.Current!;
            if (ReadNode(parser, anchors, depth + 1) is not ScalarNode { Kind: not ScalarKind.Null } key)
                throw new YamlException(keyStart.Start, keyStart.End, "a key must be plain text");
            fields.Add(KeyValuePair.Create(key.Text, ReadNode(parser, anchors, depth + 1)));
        }
        return new MapNode(fields);
    }
}
