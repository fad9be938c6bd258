namespace VSwitch.Dataplane.Config.Internal;

/// <summary>
/// One problem, at a field path such as "tenants[0].vms[1].mac"; the empty path stands for the
/// file as a whole (syntax errors).
/// </summary>
internal sealed record FieldError(string Path, string Message)
{
    public override string ToString() => Path.Length == 0 ? Message : $"{Path}: {Message}";

    /// <summary>True when <paramref name="path"/> is this error's field or lies inside it.</summary>
    public bool Covers(string path) =>
        path.StartsWith(Path, StringComparison.Ordinal)
        && (path.Length == Path.Length || path[Path.Length] is '.' or '[');
}
