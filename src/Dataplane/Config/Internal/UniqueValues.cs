namespace VSwitch.Dataplane.Config.Internal;

/// <summary>Remembers where each value was first seen, so that a duplicate's error points at the original.</summary>
internal sealed class UniqueValues<T>(ConfigErrors errors) where T : notnull
{
    private readonly Dictionary<T, string> _firstPath = [];

    /// <param name="shown">The value as the error message shows it, e.g. "'vm-a'" or "core 1".</param>
    public void Claim(T value, string path, string shown)
    {
        if (!_firstPath.TryAdd(value, path))
            errors.Add(path, $"{shown} is already used by {_firstPath[value]}");
    }
}
