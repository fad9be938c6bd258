namespace VSwitch.Dataplane.Config.Internal;

/// <summary>Collects errors instead of stopping at the first, and words the common ones alike.</summary>
internal sealed class ConfigErrors
{
    private readonly List<FieldError> _errors = [];

    public IReadOnlyList<FieldError> All => _errors;

    public bool Any => _errors.Count > 0;

    public void Add(string path, string message) => _errors.Add(new FieldError(path, message));

    public void Required(string path) => Add(path, "is required");

    /// <summary>Adds an error and returns false when <paramref name="value"/> is outside min..max.</summary>
    public bool InRange(string path, long value, long min, long max)
    {
        if (value >= min && value <= max)
            return true;
        Add(path, $"{value} is out of range ({min}..{max})");
        return false;
    }

    /// <summary>
    /// Adds a later stage's errors, leaving out those about a field that an earlier error already
    /// covers: a value that could not be read is replaced by a placeholder so the later stages can
    /// go on checking everything else, and the placeholder must not raise a second, misleading
    /// error ("'00:00:00:00:00:00' is the all-zero address" after "'02:00:0g...' is not a MAC address").
    /// </summary>
    public void AddFollowUps(IEnumerable<FieldError> later)
    {
        FieldError[] earlier = _errors.ToArray();
        foreach (FieldError error in later)
        {
            if (!earlier.Any(e => e.Covers(error.Path)))
                _errors.Add(error);
        }
    }

    public string[] Lines() => _errors.Select(e => e.ToString()).ToArray();
}
