// A thin volume pool: many volumes in one sparse backing file, each made of extents (1 MiB by
// default) taken from the pool only when a VM first writes them. The pool is a folder:
//
//   pool.data     the extents, extent n at byte n * extent size; holes where nothing was written
//   pool.journal  what the pool holds (PoolRecord.cs), replayed by every process that opens it
//
// Several vmm processes share a pool, and the tool (`vmm volume ...`) changes it beside them.
// Whoever changes the journal holds an exclusive OFD lock on its byte 0 while it reads what the
// others appended since (CatchUp), checks its records against that (PoolState.Apply) and appends
// them with fdatasync; so extents are handed out one process at a time and never twice. A VM
// using a volume holds a lock on byte 1 + slot of the journal (exclusive read-write, shared
// read-only), which the kernel drops when the process dies: resize and delete refuse a volume in
// use, and a second VMM cannot open a volume another one writes.
//
// An extent given back (a deleted volume's, a discarded one) is punched out of pool.data, and the
// punch made durable, before the record that frees it: a new owner always reads zeros.
using Microsoft.Win32.SafeHandles;
using VSwitch.Vmm.Kvm.Interop;
using VSwitch.Vmm.Volumes.Nbd;

namespace VSwitch.Vmm.Volumes.Pool;

/// <summary>A pool operation refused: the message names what and why.</summary>
public sealed class PoolException(string message) : IOException(message);

/// <summary>A volume of the pool in <paramref name="Folder"/>, by name, as a VM's disk names it.</summary>
public sealed record PoolVolumeName(string Folder, string Volume)
{
    public override string ToString() => $"{Volume} in pool {Folder}";
}

public sealed class VolumePool : IDisposable
{
    public const string DataFile = "pool.data", JournalFile = "pool.journal";
    public const long DefaultExtentSize = 1 << 20;
    private const int ErrnoWouldBlock = 11; // EAGAIN
    private const int ErrnoNotSupported = 95; // EOPNOTSUPP

    private readonly SafeFileHandle _journal;
    private readonly Lock _gate = new();
    private readonly byte[] _record = new byte[PoolRecord.Size];

    public string Folder { get; }
    public PoolState State { get; } = new();
    /// <summary>The pool's extents; PoolVolume reads and writes it directly.</summary>
    internal SafeFileHandle Data { get; }
    /// <summary>Bytes at the journal's end that are not a whole valid record (a write torn by a crash); dropped at the next change.</summary>
    public long TornBytes { get; private set; }

    private VolumePool(string folder, SafeFileHandle data, SafeFileHandle journal)
    {
        Folder = folder;
        Data = data;
        _journal = journal;
    }

    /// <summary>Makes a new pool in <paramref name="folder"/> (created if missing, and empty) of <paramref name="sizeBytes"/>.</summary>
    public static VolumePool Create(string folder, long sizeBytes, long extentSize = DefaultExtentSize)
    {
        if (extentSize < 4096 || extentSize % 4096 != 0 || sizeBytes < extentSize)
            throw new PoolException($"a pool of {sizeBytes} bytes in extents of {extentSize}: the extent size is a multiple of 4096 and the pool holds at least one");
        Directory.CreateDirectory(folder);
        if (File.Exists(Path.Combine(folder, JournalFile)))
            throw new PoolException($"{folder} already holds a pool");
        using (FileStream data = new(Path.Combine(folder, DataFile), FileMode.Create, FileAccess.Write))
            data.SetLength(sizeBytes / extentSize * extentSize); // sparse: the file system allocates nothing yet
        // The journal appears whole or not at all: its Init record is written beside it, synced, then renamed in.
        string journal = Path.Combine(folder, JournalFile), fresh = journal + ".new";
        byte[] init = new byte[PoolRecord.Size];
        new PoolRecord(PoolRecordType.Init, 0, extentSize, sizeBytes / extentSize, "", false).Write(init, 0);
        using (FileStream file = new(fresh, FileMode.Create, FileAccess.Write))
        {
            file.Write(init);
            file.Flush(flushToDisk: true);
        }
        File.Move(fresh, journal);
        return Open(folder);
    }

    /// <summary>Opens the pool in <paramref name="folder"/> and replays its journal.</summary>
    public static VolumePool Open(string folder)
    {
        string journalPath = Path.Combine(folder, JournalFile), dataPath = Path.Combine(folder, DataFile);
        if (!File.Exists(journalPath) || !File.Exists(dataPath))
            throw new PoolException($"{folder} is not a volume pool (no {JournalFile} and {DataFile}; make one with `vmm volume init`)");
        SafeFileHandle journal = File.OpenHandle(journalPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        SafeFileHandle data;
        try
        {
            data = File.OpenHandle(dataPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        }
        catch
        {
            journal.Dispose();
            throw;
        }
        var pool = new VolumePool(Path.GetFullPath(folder), data, journal);
        lock (pool._gate)
            pool.CatchUp();
        if (pool.State.Records == 0)
        {
            pool.Dispose();
            throw new PoolException($"{folder}: the journal has no Init record: not a pool, or its creation was cut short");
        }
        return pool;
    }

    public PoolVolumeInfo CreateVolume(string name, long sizeBytes)
    {
        CheckName(name, "volume name", DiskNameBytes);
        if (sizeBytes <= 0 || sizeBytes % 512 != 0)
            throw new PoolException($"volume size {sizeBytes}: a whole number of 512-byte sectors, at least one");
        Change(state =>
        {
            if (state.Find(name) is not null)
                throw new PoolException($"volume '{name}' already exists");
            int slot = state.FreeSlot();
            if (slot < 0)
                throw new PoolException($"the pool holds {PoolState.MaxVolumes} volumes already");
            return [new PoolRecord(PoolRecordType.Create, slot, sizeBytes, 0, name, false)];
        });
        return State.Find(name)!;
    }

    /// <summary>
    /// Records a volume that lives outside the pool, an NBD export or a raw file, so that it has
    /// owners like any other: a VM reaches it only through an attachment made here.
    /// </summary>
    public PoolVolumeInfo CreateExternalVolume(string name, ExternalKind kind, string location)
    {
        CheckName(name, "volume name", DiskNameBytes);
        if (location.Length == 0 || location.Length > PoolState.MaxLocationBytes || !location.All(c => c is >= ' ' and <= '~'))
            throw new PoolException($"location '{location}': 1 to {PoolState.MaxLocationBytes} printable ASCII characters");
        string? wrong = kind switch
        {
            ExternalKind.Nbd => NbdLocationError(location),
            ExternalKind.File => Path.IsPathFullyQualified(location) ? null : "a file volume's path is absolute",
            _ => $"kind {kind} is not an external volume",
        };
        if (wrong is not null)
            throw new PoolException($"location '{location}': {wrong}");
        Change(state =>
        {
            if (state.Find(name) is not null)
                throw new PoolException($"volume '{name}' already exists");
            // Two names for one export or file would be two owners for one volume.
            if (state.Volumes.FirstOrDefault(v => v.External == kind && v.Location == location) is { } twin)
                throw new PoolException($"{location} is already volume '{twin.Name}'");
            int slot = state.FreeSlot();
            if (slot < 0)
                throw new PoolException($"the pool holds {PoolState.MaxVolumes} volumes already");
            // The location is ASCII: a piece of it is as many characters as bytes.
            return [new PoolRecord(PoolRecordType.External, slot, (long)kind, location.Length, name, false),
                .. location.Chunk(PoolRecord.MaxTextBytes).Select((piece, i) =>
                    new PoolRecord(PoolRecordType.Location, slot, (long)i * PoolRecord.MaxTextBytes, 0, new string(piece), false))];
        });
        return State.Find(name)!;
    }

    private static string? NbdLocationError(string uri)
    {
        try
        {
            NbdAddress.Parse(uri);
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    /// <summary>Grows a volume that no VM is using (a running guest would not see its new size).</summary>
    public void ResizeVolume(string name, long sizeBytes) => Change(state =>
    {
        PoolVolumeInfo volume = Existing(state, name);
        RefuseIfExternal(volume, "resized here: its size is its server's or its file's");
        if (sizeBytes < volume.SizeBytes || sizeBytes % 512 != 0)
            throw new PoolException($"volume '{name}' is {volume.SizeBytes} bytes: it can only grow, in whole 512-byte sectors (asked {sizeBytes})");
        RefuseIfInUse(volume, "resized");
        return [new PoolRecord(PoolRecordType.Resize, volume.Slot, sizeBytes, 0, "", false)];
    });

    /// <summary>Deletes a volume no VM is using: its extents are zeroed, then given back.</summary>
    public void DeleteVolume(string name) => Change(state =>
    {
        PoolVolumeInfo volume = Existing(state, name);
        RefuseIfInUse(volume, "deleted");
        foreach (long physical in volume.Map)
        {
            if (physical >= 0)
                ZeroData(physical * state.ExtentSize, state.ExtentSize, punchHole: true);
        }
        SyncData();
        return [new PoolRecord(PoolRecordType.Delete, volume.Slot, 0, 0, "", false)];
    });

    /// <summary>Records that the VM named <paramref name="vm"/> may attach the volume: read-write alone, or read-only beside other read-only VMs.</summary>
    public void Attach(string name, string vm, bool readOnly) => Change(state =>
    {
        CheckName(vm, "VM name", PoolRecord.MaxTextBytes);
        PoolVolumeInfo volume = Existing(state, name);
        if (volume.Owners.Any(o => o.Vm == vm))
            throw new PoolException($"volume '{name}' is already attached to '{vm}'");
        if (volume.Owners.Count > 0 && (!readOnly || volume.Owners.Any(o => !o.ReadOnly)))
            throw new PoolException($"volume '{name}' is attached to {string.Join(", ", volume.Owners.Select(o => $"'{o.Vm}'{(o.ReadOnly ? " read-only" : "")}"))}: " +
                "a read-write attachment is exclusive, read-only ones may be shared");
        return [new PoolRecord(PoolRecordType.Attach, volume.Slot, 0, 0, vm, readOnly)];
    });

    public void Detach(string name, string vm) => Change(state =>
    {
        PoolVolumeInfo volume = Existing(state, name);
        if (volume.Owners.All(o => o.Vm != vm))
            throw new PoolException($"volume '{name}' is not attached to '{vm}'");
        RefuseIfInUse(volume, "detached");
        return [new PoolRecord(PoolRecordType.Detach, volume.Slot, 0, 0, vm, false)];
    });

    /// <summary>
    /// Opens volume <paramref name="name"/> for the VM named <paramref name="vm"/>, which must be
    /// attached to it (read-write, or read-only for a read-only disk), while no other VMM writes it.
    /// </summary>
    public PoolVolume OpenVolume(string name, string vm, bool readOnly)
    {
        PoolVolumeInfo volume = Claim(name, vm, readOnly);
        if (volume.External != ExternalKind.None)
        {
            Close(volume);
            RefuseIfExternal(volume, "written through the pool: write to it where it is");
        }
        return new PoolVolume(this, volume, readOnly, new Lease(this, volume, closesPool: false));
    }

    /// <summary>Checks that the VM named <paramref name="vm"/> may attach the volume so, and takes the volume's lock.</summary>
    private PoolVolumeInfo Claim(string name, string vm, bool readOnly)
    {
        lock (_gate)
        {
            CatchUp();
            PoolVolumeInfo volume = Existing(State, name);
            (string Vm, bool ReadOnly) owner = volume.Owners.FirstOrDefault(o => o.Vm == vm);
            if (owner.Vm is null)
                throw new PoolException($"volume '{name}' is not attached to VM '{vm}' (attach it with `vmm volume attach`)");
            if (owner.ReadOnly && !readOnly)
                throw new PoolException($"volume '{name}' is attached to VM '{vm}' read-only: give the disk read_only: true");
            if (volume.Location.Length != volume.LocationLength)
                throw new PoolException($"volume '{name}': its location was cut short by a crash while it was created: delete it and create it again");
            int errno = Interop.LockRange(_journal, 1 + volume.Slot, 1, readOnly ? RangeLockKind.Shared : RangeLockKind.Exclusive, wait: false);
            if (errno == ErrnoWouldBlock)
                throw new PoolException($"volume '{name}' is in use by another VMM");
            if (errno != 0)
                throw new PoolException($"cannot lock volume '{name}': errno {errno}");
            return volume;
        }
    }

    /// <summary>
    /// Opens the pool and the volume a VM's disk names, wherever its bytes are (the pool's
    /// extents, an NBD export, a file); the volume owns the pool, and the volume's lock, from then on.
    /// </summary>
    public static IBlockVolume OpenDisk(PoolVolumeName name, string vm, bool readOnly, string id, TimeSpan nbdReconnectLimit, Action<string> log)
    {
        VolumePool pool = Open(name.Folder);
        try
        {
            PoolVolumeInfo volume = pool.Claim(name.Volume, vm, readOnly);
            var lease = new Lease(pool, volume, closesPool: true);
            try
            {
                return volume.External switch
                {
                    ExternalKind.Nbd => NbdVolume.Open(NbdAddress.Parse(volume.Location), id, readOnly, nbdReconnectLimit, log, lease: lease),
                    ExternalKind.File => RawFileVolume.Open(volume.Location, id, readOnly, lease),
                    _ => new PoolVolume(pool, volume, readOnly, lease),
                };
            }
            catch
            {
                pool.Close(volume);
                throw;
            }
        }
        catch
        {
            pool.Dispose();
            throw;
        }
    }

    /// <summary>
    /// An open volume's hold on its pool, whatever holds its bytes: disposing it releases the
    /// volume's lock and, for a disk that opened the pool for itself (OpenDisk), closes the pool.
    /// </summary>
    private sealed class Lease(VolumePool pool, PoolVolumeInfo volume, bool closesPool) : IDisposable
    {
        public void Dispose()
        {
            pool.Close(volume);
            if (closesPool)
                pool.Dispose();
        }
    }

    internal void Close(PoolVolumeInfo volume)
    {
        lock (_gate)
            Interop.LockRange(_journal, 1 + volume.Slot, 1, RangeLockKind.Unlock, wait: false);
    }

    /// <summary>The physical extent behind logical extent <paramref name="logical"/> of the volume, mapping a free one if none yet; throws when the pool is full.</summary>
    internal long MapExtent(PoolVolumeInfo volume, long logical)
    {
        long mapped = -1;
        Change(state =>
        {
            if ((mapped = volume.Map[logical]) >= 0)
                return [];
            long physical = state.FreeExtent();
            if (physical < 0)
                throw new PoolException($"the pool is full ({state.ExtentCount} extents of {state.ExtentSize >> 20} MiB): volume '{volume.Name}' cannot grow into extent {logical}");
            mapped = physical;
            return [new PoolRecord(PoolRecordType.Map, volume.Slot, logical, physical, "", false)];
        });
        return mapped;
    }

    /// <summary>Gives logical extent <paramref name="logical"/> of the volume back to the pool: zeroed, then unmapped.</summary>
    internal void UnmapExtent(PoolVolumeInfo volume, long logical) => Change(state =>
    {
        long physical = volume.Map[logical];
        if (physical < 0)
            return [];
        ZeroData(physical * state.ExtentSize, state.ExtentSize, punchHole: true);
        SyncData();
        return [new PoolRecord(PoolRecordType.Unmap, volume.Slot, logical, physical, "", false)];
    });

    /// <summary>Zeroes a range of pool.data: punched out (its blocks freed) or zeroed in place; where the file system has neither, written.</summary>
    internal void ZeroData(long offset, long length, bool punchHole)
    {
        int errno = Interop.ZeroRange(Data, offset, length, punchHole);
        if (errno == ErrnoNotSupported)
        {
            BlockVolumeExtensions.WriteZeros(Data, offset, length, static (file, at, zeros) => RandomAccess.Write(file, zeros, at));
            return;
        }
        if (errno != 0)
            throw new IOException($"pool {Folder}: zeroing {length} bytes at {offset} of {DataFile} failed: errno {errno}");
    }

    internal void SyncData()
    {
        int errno = Interop.DataSync(Data);
        if (errno != 0)
            throw new IOException($"pool {Folder}: fdatasync of {DataFile} failed: errno {errno}");
    }

    /// <summary>
    /// Under the pool's lock: catches up with what others appended, asks <paramref name="decide"/>
    /// for the records to append (it may throw to refuse), checks each against the state, appends
    /// them durably and applies them.
    /// </summary>
    private void Change(Func<PoolState, PoolRecord[]> decide)
    {
        lock (_gate)
        {
            int errno = Interop.LockRange(_journal, 0, 1, RangeLockKind.Exclusive, wait: true);
            if (errno != 0)
                throw new IOException($"pool {Folder}: cannot lock {JournalFile}: errno {errno}");
            try
            {
                CatchUp();
                PoolRecord[] records = decide(State);
                if (records.Length == 0)
                    return;
                long at = (long)State.Records * PoolRecord.Size;
                if (TornBytes != 0)
                {
                    RandomAccess.SetLength(_journal, at);
                    TornBytes = 0;
                }
                foreach (PoolRecord record in records)
                {
                    if (State.Apply(record) is { } broken)
                        throw new InvalidOperationException($"pool {Folder}: refusing to journal a record that breaks the pool: {broken}");
                    record.Write(_record, (uint)(State.Records - 1));
                    RandomAccess.Write(_journal, _record, at);
                    at += PoolRecord.Size;
                }
                errno = Interop.DataSync(_journal);
                if (errno != 0)
                    throw new IOException($"pool {Folder}: fdatasync of {JournalFile} failed: errno {errno}");
            }
            finally
            {
                Interop.LockRange(_journal, 0, 1, RangeLockKind.Unlock, wait: false);
            }
        }
    }

    /// <summary>Applies the records appended since this process last read the journal.</summary>
    private void CatchUp()
    {
        long length = RandomAccess.GetLength(_journal);
        long at = (long)State.Records * PoolRecord.Size;
        while (at + PoolRecord.Size <= length)
        {
            RandomAccess.Read(_journal, _record, at);
            if (PoolRecord.Read(_record, (uint)State.Records) is not { } record)
                break;
            if (State.Apply(record) is { } broken)
                throw new PoolException($"pool {Folder}: record {State.Records} of {JournalFile} does not hold: {broken}");
            at += PoolRecord.Size;
        }
        // A crash can cut short only the last append. A whole record after a damaged one means the
        // journal was damaged in place: cutting it off there would free the extents those later
        // records give to volumes, for other volumes to read.
        for (long later = at + PoolRecord.Size; later + PoolRecord.Size <= length; later += PoolRecord.Size)
        {
            RandomAccess.Read(_journal, _record, later);
            if (PoolRecord.Read(_record, (uint)(later / PoolRecord.Size)) is not null)
                throw new PoolException($"pool {Folder}: record {State.Records} of {JournalFile} is damaged but record {later / PoolRecord.Size} after it is whole: " +
                    "the journal is corrupt, not cut short by a crash; the pool is left as it is");
        }
        TornBytes = length - at;
    }

    /// <summary>Whether a running VMM has the volume open (it holds the volume's lock).</summary>
    public bool InUse(PoolVolumeInfo volume)
    {
        lock (_gate)
            return HeldElsewhere(volume);
    }

    /// <summary>Tries the volume's lock, and drops it at once if taken: whether another descriptor (another VMM) holds it.</summary>
    private bool HeldElsewhere(PoolVolumeInfo volume)
    {
        int errno = Interop.LockRange(_journal, 1 + volume.Slot, 1, RangeLockKind.Exclusive, wait: false);
        if (errno == 0)
            Interop.LockRange(_journal, 1 + volume.Slot, 1, RangeLockKind.Unlock, wait: false);
        return errno == ErrnoWouldBlock;
    }

    /// <summary>Reads the journal again from its first record, as `vmm volume check` does; throws a PoolException naming the first record that does not hold.</summary>
    public static PoolState Replay(string folder)
    {
        using VolumePool pool = Open(folder);
        return pool.State;
    }

    private void RefuseIfInUse(PoolVolumeInfo volume, string what)
    {
        if (HeldElsewhere(volume))
            throw new PoolException($"volume '{volume.Name}' is in use by a running VM: it can be {what} only when that VM has stopped");
    }

    private static void RefuseIfExternal(PoolVolumeInfo volume, string what)
    {
        if (volume.External != ExternalKind.None)
            throw new PoolException($"volume '{volume.Name}' is {(volume.External == ExternalKind.Nbd ? "the NBD export" : "the file")} {volume.Location}, " +
                $"outside the pool: it cannot be {what}");
    }

    private static PoolVolumeInfo Existing(PoolState state, string name) =>
        state.Find(name) ?? throw new PoolException($"no volume '{name}' in the pool");

    /// <summary>A volume's name is its disk's id, which virtio-blk's GET_ID gives in 20 bytes.</summary>
    public const int DiskNameBytes = 20;

    /// <summary>What a volume's or a VM's name may be: 1 to <paramref name="maxLength"/> ASCII letters, digits, '-', '_' or '.'.</summary>
    public static bool IsName(string name, int maxLength) =>
        name.Length > 0 && name.Length <= maxLength && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static void CheckName(string name, string what, int maxLength)
    {
        if (!IsName(name, maxLength))
            throw new PoolException($"{what} '{name}': 1 to {maxLength} letters, digits, '-', '_' or '.'");
    }

    public void Dispose()
    {
        _journal.Dispose();
        Data.Dispose();
    }
}
