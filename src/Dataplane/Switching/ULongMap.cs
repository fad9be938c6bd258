// An immutable open-addressing hash map from non-zero 64-bit keys to values, built once per
// table snapshot. Lookups allocate nothing and touch one or two cache lines; the load factor is
// kept at or below 1/2 so linear probes stay short.
using System.Numerics;
using System.Runtime.CompilerServices;

namespace VSwitch.Dataplane.Switching;

public sealed class ULongMap<TValue>
{
    private readonly ulong[] _keys;
    private readonly TValue[] _values;
    private readonly int _mask;

    public int Count { get; }

    public ULongMap(IReadOnlyCollection<KeyValuePair<ulong, TValue>> entries)
    {
        int capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, entries.Count * 2));
        _keys = new ulong[capacity];
        _values = new TValue[capacity];
        _mask = capacity - 1;
        foreach ((ulong key, TValue value) in entries)
        {
            if (key == 0)
                throw new ArgumentException("key 0 is reserved for empty slots", nameof(entries));
            int slot = Slot(key);
            while (_keys[slot] != 0 && _keys[slot] != key)
                slot = (slot + 1) & _mask;
            if (_keys[slot] == key)
                throw new ArgumentException($"duplicate key 0x{key:x}", nameof(entries));
            _keys[slot] = key;
            _values[slot] = value;
            Count++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetValue(ulong key, out TValue value)
    {
        ulong[] keys = _keys;
        int slot = Slot(key);
        while (true)
        {
            ulong k = keys[slot];
            if (k == key)
            {
                value = _values[slot];
                return true;
            }
            if (k == 0)
            {
                value = default!;
                return false;
            }
            slot = (slot + 1) & _mask;
        }
    }

    // Fibonacci hashing: the multiply spreads MAC and IPv4 keys, whose low bits differ least.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong key) => (int)((key * 0x9E37_79B9_7F4A_7C15UL) >> 32) & _mask;
}
