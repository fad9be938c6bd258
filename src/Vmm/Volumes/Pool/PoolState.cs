// What a volume pool's journal says, replayed: its extents, its volumes and who owns each
// extent. Apply refuses any record that would break the pool's invariants (an extent owned twice,
// a volume that maps outside itself, a name used twice), so the same code both writes the journal
// (a record is checked before it is appended) and checks it (`vmm volume check` replays it from
// the start and reports the first record that does not hold).
namespace VSwitch.Vmm.Volumes.Pool;

/// <summary>A volume of the pool: its slot, name, size, extent map and the VMs that may attach it.</summary>
public sealed class PoolVolumeInfo(int slot, string name, long sizeBytes, long extentSize)
{
    public int Slot { get; } = slot;
    public string Name { get; } = name;
    /// <summary>0 for an external volume: its size is its server's or its file's.</summary>
    public long SizeBytes { get; internal set; } = sizeBytes;
    /// <summary>Where the volume's bytes are, when not in the pool's extents.</summary>
    public ExternalKind External { get; internal init; }
    /// <summary>The external volume's NBD URI or path; empty for an extent volume.</summary>
    public string Location { get; internal set; } = "";
    /// <summary>How long the External record said Location is: shorter when a crash cut its records short.</summary>
    public int LocationLength { get; internal init; }
    /// <summary>Logical extent to physical extent; -1 where nothing was ever written (reads zeros).</summary>
    internal long[] Map = NewMap(sizeBytes, extentSize);
    internal readonly List<(string Vm, bool ReadOnly)> Owners = [];

    public int MappedExtents { get; internal set; }
    public IReadOnlyList<(string Vm, bool ReadOnly)> Attachments => Owners;

    internal static long[] NewMap(long sizeBytes, long extentSize)
    {
        long[] map = new long[(sizeBytes + extentSize - 1) / extentSize];
        Array.Fill(map, -1);
        return map;
    }
}

public sealed class PoolState
{
    public const int MaxVolumes = 4096;
    /// <summary>The longest NBD URI or path an external volume may have: 16 Location records.</summary>
    public const int MaxLocationBytes = 16 * PoolRecord.MaxTextBytes;

    private readonly Dictionary<int, PoolVolumeInfo> _bySlot = [];
    private readonly Dictionary<string, PoolVolumeInfo> _byName = new(StringComparer.Ordinal);
    // Per physical extent: the slot + 1 of the volume that maps it, 0 when free.
    private int[] _extentOwner = [];
    private long _freeHint;

    public long ExtentSize { get; private set; }
    public long ExtentCount { get; private set; }
    public long FreeExtents { get; private set; }
    public int Records { get; private set; }
    public IEnumerable<PoolVolumeInfo> Volumes => _bySlot.Values.OrderBy(v => v.Slot);

    public PoolVolumeInfo? Find(string name) => _byName.GetValueOrDefault(name);

    public PoolVolumeInfo? Find(int slot) => _bySlot.GetValueOrDefault(slot);

    /// <summary>The lowest slot no volume holds.</summary>
    public int FreeSlot()
    {
        for (int slot = 0; slot < MaxVolumes; slot++)
        {
            if (!_bySlot.ContainsKey(slot))
                return slot;
        }
        return -1;
    }

    /// <summary>A free physical extent (searching on from the last one handed out), or -1 when the pool is full.</summary>
    public long FreeExtent()
    {
        for (long i = 0; i < ExtentCount; i++)
        {
            long extent = (_freeHint + i) % ExtentCount;
            if (_extentOwner[extent] == 0)
                return extent;
        }
        return -1;
    }

    /// <summary>Applies <paramref name="r"/>; returns why it breaks the pool instead (and applies nothing), or null.</summary>
    public string? Apply(PoolRecord r)
    {
        if (Records == 0)
        {
            if (r.Type != PoolRecordType.Init || r.A < 4096 || r.A % 4096 != 0 || r.B < 1 || r.B > int.MaxValue)
                return "the first record is not a valid Init";
            ExtentSize = r.A;
            ExtentCount = r.B;
            FreeExtents = r.B;
            _extentOwner = new int[r.B];
            Records++;
            return null;
        }
        PoolVolumeInfo? volume = _bySlot.GetValueOrDefault(r.Slot);
        bool creates = r.Type is PoolRecordType.Create or PoolRecordType.External;
        if (!creates && volume is null)
            return $"{r.Type} of slot {r.Slot}, which holds no volume";
        if (volume is { External: not ExternalKind.None } && r.Type is PoolRecordType.Resize or PoolRecordType.Map or PoolRecordType.Unmap)
            return $"{r.Type} of '{volume.Name}', which lives outside the pool and has no extents";
        switch (r.Type)
        {
            case PoolRecordType.Create or PoolRecordType.External:
                if (volume is not null)
                    return $"{r.Type} in slot {r.Slot}, which holds '{volume.Name}'";
                bool external = r.Type == PoolRecordType.External;
                if (r.Slot >= MaxVolumes || r.Text.Length == 0 || _byName.ContainsKey(r.Text) ||
                    (external ? r.A is not ((long)ExternalKind.Nbd or (long)ExternalKind.File) || r.B is <= 0 or > MaxLocationBytes
                              : r.A <= 0 || r.A % 512 != 0))
                    return $"{r.Type} of '{r.Text}' ({r.A}, slot {r.Slot}) is not a new volume";
                volume = external
                    ? new PoolVolumeInfo(r.Slot, r.Text, 0, ExtentSize) { External = (ExternalKind)r.A, LocationLength = (int)r.B }
                    : new PoolVolumeInfo(r.Slot, r.Text, r.A, ExtentSize);
                _bySlot.Add(r.Slot, volume);
                _byName.Add(r.Text, volume);
                break;
            case PoolRecordType.Location:
                // Pieces in order, each but the last full: the location is their concatenation.
                if (volume!.External == ExternalKind.None || r.A != volume.Location.Length || !System.Text.Ascii.IsValid(r.Text) ||
                    r.A + r.Text.Length > volume.LocationLength || volume.Location.Length % PoolRecord.MaxTextBytes != 0)
                    return $"Location of '{volume.Name}' at byte {r.A}, which does not continue an external volume's location";
                volume.Location += r.Text;
                break;
            case PoolRecordType.Delete:
                foreach (long physical in volume!.Map)
                {
                    if (physical >= 0)
                        Free(physical);
                }
                _bySlot.Remove(r.Slot);
                _byName.Remove(volume.Name);
                break;
            case PoolRecordType.Resize:
                if (r.A < volume!.SizeBytes || r.A % 512 != 0)
                    return $"Resize of '{volume.Name}' to {r.A} bytes: volumes only grow, in whole sectors";
                long[] map = PoolVolumeInfo.NewMap(r.A, ExtentSize);
                volume.Map.CopyTo(map, 0);
                volume.Map = map;
                volume.SizeBytes = r.A;
                break;
            case PoolRecordType.Map:
                if (r.A < 0 || r.A >= volume!.Map.Length || volume.Map[r.A] >= 0)
                    return $"Map of extent {r.A} of '{volume!.Name}', which is outside it or already mapped";
                if (r.B < 0 || r.B >= ExtentCount || _extentOwner[r.B] != 0)
                    return $"Map of '{volume.Name}' extent {r.A} to physical extent {r.B}, which is outside the pool or not free";
                volume.Map[r.A] = r.B;
                volume.MappedExtents++;
                _extentOwner[r.B] = r.Slot + 1;
                FreeExtents--;
                _freeHint = r.B + 1;
                break;
            case PoolRecordType.Unmap:
                if (r.A < 0 || r.A >= volume!.Map.Length || volume.Map[r.A] != r.B)
                    return $"Unmap of extent {r.A} of '{volume!.Name}', which does not map physical extent {r.B}";
                volume.Map[r.A] = -1;
                volume.MappedExtents--;
                Free(r.B);
                break;
            case PoolRecordType.Attach:
                if (r.Text.Length == 0 || volume!.Owners.Any(o => o.Vm == r.Text))
                    return $"Attach of '{volume!.Name}' to '{r.Text}', which already has it";
                if ((!r.ReadOnly && volume.Owners.Count > 0) || (r.ReadOnly && volume.Owners.Any(o => !o.ReadOnly)))
                    return $"Attach of '{volume.Name}' to '{r.Text}' {(r.ReadOnly ? "read-only" : "read-write")}: a read-write attachment is exclusive";
                volume.Owners.Add((r.Text, r.ReadOnly));
                break;
            case PoolRecordType.Detach:
                if (volume!.Owners.RemoveAll(o => o.Vm == r.Text) == 0)
                    return $"Detach of '{volume.Name}' from '{r.Text}', which does not have it";
                break;
            default:
                return $"record type {(int)r.Type} is unknown";
        }
        Records++;
        return null;
    }

    private void Free(long physical)
    {
        _extentOwner[physical] = 0;
        FreeExtents++;
    }
}
