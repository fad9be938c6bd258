// An immutable open-addressing hash map from non-zero 64-bit keys to values, built once per
// table snapshot. Lookups allocate nothing. Each key sits beside its value in one array, so a hit
// costs one cache line after the array's header; the load factor is kept at or below 1/2 so
// linear probes stay short.
using System.Numerics;
using System.Runtime.CompilerServices;

namespace VSwitch.Dataplane.Collections;

public sealed class ULongMap<TValue>
{
    private struct Entry
    {
        public ulong Key;
        public TValue Value;
    }

    private readonly Entry[] _entries;

    public int Count { get; }

    public ULongMap(IReadOnlyCollection<KeyValuePair<ulong, TValue>> entries)
    {
        int capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, entries.Count * 2));
        _entries = new Entry[capacity];
        int mask = capacity - 1;
        foreach ((ulong key, TValue value) in entries)
        {
            if (key == 0)
                throw new ArgumentException("key 0 is reserved for empty slots", nameof(entries));
            int slot = Slot(key, mask);
            while (_entries[slot].Key != 0 && _entries[slot].Key != key)
                slot = (slot + 1) & mask;
            if (_entries[slot].Key == key)
                throw new ArgumentException($"duplicate key 0x{key:x}", nameof(entries));
            _entries[slot] = new Entry { Key = key, Value = value };
            Count++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetValue(ulong key, out TValue value)
    {
        Entry[] entries = _entries;
        // The capacity is a power of two: the mask comes from the length the bounds check reads anyway.
        int mask = entries.Length - 1;
        int slot = Slot(key, mask);
        while (true)
        {
            ref Entry entry = ref entries[slot];
            if (entry.Key == key)
            {
                value = entry.Value;
                return true;
            }
            if (entry.Key == 0)
            {
                value = default!;
                return false;
            }
            slot = (slot + 1) & mask;
        }
    }

    // Fibonacci hashing: the multiply spreads MAC and IPv4 keys, whose low bits differ least.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Slot(ulong key, int mask) => (int)((key * 0x9E37_79B9_7F4A_7C15UL) >> 32) & mask;
}
