// One worker's drops of tunnelled frames on the uplink, by (VNI, reason): the tenant a frame
// belonged to, once its tunnel was known, so that a tenant's drops include frames its remote VMs
// sent that died here, not only frames at its own VM ports.
//
// Why keyed by VNI and sparse: a tenant's VNI is fixed for as long as the tenant exists, while its
// index in the tables shifts when another tenant leaves, so counts kept by index would move to the
// wrong tenant or have to be reset. And a dense row of every reason for every possible tenant would
// cost a worker 8 bytes × reasons × 65 535 tenants (24 MB); a healthy host has a handful of
// (tenant, reason) pairs. So the table has a fixed Capacity of pairs (64 KiB), filled by linear
// probing as pairs first occur, never emptied. A drop that finds no room still counts at the uplink
// port and host-wide; it is counted in Unattributed instead of under its tenant. The counts live
// as long as vswitchd: a tenant created with the VNI of one that left starts from that one's counts.
//
// The worker alone writes; the control side reads while it runs. A pair's count is written before
// its key is published, so a reader that sees the key reads a count of at least 1.
using System.Runtime.CompilerServices;

namespace VSwitch.Dataplane.Counters;

public sealed class VniDropTable
{
    /// <summary>(VNI, reason) pairs a worker can hold; a power of two.</summary>
    public const int Capacity = 4096;

    /// <summary>Slots a new pair may probe before it is counted as Unattributed: keeps the worst drop's cost bounded once the table is nearly full.</summary>
    private const int MaxProbes = 64;

    // 0: empty; else (VNI << 8 | reason) + 1, which is never 0 for a 24-bit VNI.
    private readonly ulong[] _keys = new ulong[Capacity];
    private readonly ulong[] _counts = new ulong[Capacity];
    private ulong _unattributed;

    /// <summary>Drops of known tunnels that found no room in the table.</summary>
    public ulong Unattributed => Volatile.Read(ref _unattributed);

    /// <summary>Counts one frame of the tenant with <paramref name="vni"/> dropped for <paramref name="reason"/>. Worker thread only; allocates nothing.</summary>
    public void Add(uint vni, DropReason reason)
    {
        ulong key = ((ulong)vni << 8 | (byte)reason) + 1;
        int slot = (int)((key * 0x9E37_79B9_7F4A_7C15UL) >> 32) & (Capacity - 1);
        for (int probe = 0; probe < MaxProbes; probe++, slot = (slot + 1) & (Capacity - 1))
        {
            ulong present = _keys[slot];
            if (present == key)
            {
                _counts[slot]++;
                return;
            }
            if (present == 0)
            {
                _counts[slot] = 1;
                Volatile.Write(ref _keys[slot], key);
                return;
            }
        }
        _unattributed++;
    }

    /// <summary>Adds every pair's count into <paramref name="byVni"/> (VNI -> counts indexed by DropReason), read while the worker runs.</summary>
    public void AddTo(Dictionary<uint, ulong[]> byVni)
    {
        for (int slot = 0; slot < Capacity; slot++)
        {
            ulong key = Volatile.Read(ref _keys[slot]);
            if (key == 0)
                continue;
            uint vni = (uint)((key - 1) >> 8);
            if (!byVni.TryGetValue(vni, out ulong[]? reasons))
                byVni[vni] = reasons = new ulong[DropReasons.Count];
            reasons[(int)((key - 1) & 0xFF)] += Volatile.Read(ref _counts[slot]);
        }
    }
}
