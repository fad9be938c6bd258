namespace VSwitch.Dataplane.Config.Internal;

/// <summary>
/// Puts errors in the order of the fields in the file. The stages find them in their own order
/// (a MAC that does not parse before an MTU out of range further up), which reads badly in a
/// long file.
/// </summary>
internal static class FileOrder
{
    public static IEnumerable<FieldError> Sort(IEnumerable<FieldError> errors, ConfigNode root) =>
        errors.OrderBy(error => Position(root, error.Path), Comparer<int[]>.Create(Compare)); // stable: same field keeps its order

    /// <summary>
    /// The path as positions: for a field, its index among its mapping's fields in the file; for
    /// a list item, its index. A field the file lacks (a required one) sorts after its siblings.
    /// </summary>
    private static int[] Position(ConfigNode root, string path)
    {
        var position = new List<int>();
        ConfigNode? node = root;
        foreach (string segment in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            int bracket = segment.IndexOf('[');
            node = Field(node, bracket < 0 ? segment : segment[..bracket], position);
            foreach (string index in bracket < 0 ? [] : segment[(bracket + 1)..].TrimEnd(']').Split("]["))
            {
                // An unknown key is the file's own text and may hold brackets that are no index.
                int i = int.TryParse(index, System.Globalization.CultureInfo.InvariantCulture, out int parsed) ? parsed : int.MaxValue;
                position.Add(i);
                node = node is ListNode list && i < list.Items.Count ? list.Items[i] : null;
            }
        }
        return position.ToArray();
    }

    private static ConfigNode? Field(ConfigNode? node, string key, List<int> position)
    {
        IReadOnlyList<KeyValuePair<string, ConfigNode>> fields = node is MapNode map ? map.Fields : [];
        for (int i = 0; i < fields.Count; i++)
        {
            if (fields[i].Key == key)
            {
                position.Add(i);
                return fields[i].Value;
            }
        }
        position.Add(int.MaxValue);
        return null;
    }

    private static int Compare(int[] a, int[] b)
    {
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            if (a[i] != b[i])
                return a[i].CompareTo(b[i]);
        }
        return a.Length.CompareTo(b.Length);
    }
}
