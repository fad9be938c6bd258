// The vectors of mbuf pointers that DPDK's burst functions fill and drain (rte_eth_rx_burst,
// rte_eth_tx_burst, rte_pktmbuf_free_bulk, rte_pktmbuf_alloc_bulk, rte_vhost_{en,de}queue_burst),
// in native memory so that no call pins anything. An MbufArray is a view, pointer and length,
// into an MbufArena; each element access is checked against the view and each native call is
// given the view's own length, so code above this folder cannot reach past an array whatever
// index it computes. The check is one compare per access, which the worker loop can afford.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static VSwitch.Dataplane.Interop.Interop;

namespace VSwitch.Dataplane.Interop;

/// <summary>Native memory for one owner's mbuf arrays, cut into cache-line-aligned views; freed once, by Dispose.</summary>
internal sealed unsafe class MbufArena : IDisposable
{
    private const int EntriesPerLine = 64 / 8;
    private IntPtr* _memory;
    private readonly int _capacity;
    private int _taken;

    /// <summary>An arena for arrays of these lengths, to be taken in this order.</summary>
    public MbufArena(params ReadOnlySpan<int> lengths)
    {
        foreach (int length in lengths)
            _capacity += RoundToLine(length);
        // SAFETY: a fresh block of _capacity entries, zeroed so that no view ever reads garbage.
        _memory = (IntPtr*)NativeMemory.AlignedAlloc((nuint)_capacity * (nuint)sizeof(IntPtr), 64);
        new Span<IntPtr>(_memory, _capacity).Clear();
    }

    /// <summary>The next <paramref name="length"/> entries, starting on a cache line of their own.</summary>
    public MbufArray Take(int length)
    {
        ObjectDisposedException.ThrowIf(_memory == null, this);
        if (length < 0 || RoundToLine(length) > _capacity - _taken)
            throw new ArgumentOutOfRangeException(nameof(length), $"{length} entries do not fit the arena's {_capacity - _taken} left");
        // SAFETY: _taken + length <= _capacity, checked above: the view lies within the block.
        var array = new MbufArray(_memory + _taken, length);
        _taken += RoundToLine(length);
        return array;
    }

    /// <summary>Frees the block. Every view taken from it is dead afterwards: call it only once no thread uses them.</summary>
    public void Dispose()
    {
        if (_memory == null)
            return;
        NativeMemory.AlignedFree(_memory);
        _memory = null;
    }

    private static int RoundToLine(int length) => (length + EntriesPerLine - 1) / EntriesPerLine * EntriesPerLine;
}

/// <summary>A view of <see cref="Length"/> mbuf pointers in an <see cref="MbufArena"/>, and DPDK's burst calls over exactly those entries.</summary>
// SAFETY (every member below): _items points at Length entries inside a live arena (MbufArena.Take
// or Slice of a view, both bounds-checked); element accesses check the index against Length, and
// each native call is given Length, so it reads or writes only those entries.
internal readonly unsafe struct MbufArray
{
    private readonly IntPtr* _items;

    internal MbufArray(IntPtr* items, int length)
    {
        _items = items;
        Length = length;
    }

    public int Length { get; }

    /// <summary>The bytes of the first <paramref name="count"/> frames: the sum of their first segments' data lengths.</summary>
    public ulong DataLengths(int count)
    {
        ulong bytes = 0;
        for (int i = 0; i < count; i++)
            bytes += (uint)Mbuf.DataLen(this[i]);
        return bytes;
    }

    public IntPtr this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if ((uint)index >= (uint)Length)
                ThrowIndexOutOfRange(index, Length);
            // SAFETY: see the struct header: index < Length.
            return _items[index];
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        set
        {
            if ((uint)index >= (uint)Length)
                ThrowIndexOutOfRange(index, Length);
            // SAFETY: see the struct header: index < Length.
            _items[index] = value;
        }
    }

    /// <summary>The <paramref name="length"/> entries from <paramref name="start"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public MbufArray Slice(int start, int length)
    {
        if ((ulong)(uint)start + (uint)length > (uint)Length)
            ThrowIndexOutOfRange(start + length, Length);
        // SAFETY: see the struct header: start + length <= Length.
        return new MbufArray(_items + start, length);
    }

    /// <summary>rte_eth_rx_burst into this array: how many frames arrived (at most Length).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int RxBurst(ushort port, ushort queue) => vsw_rx_burst(port, queue, _items, (ushort)Length);

    /// <summary>rte_eth_tx_burst of this array's frames: how many the queue took, from the front; the rest stay the caller's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int TxBurst(ushort port, ushort queue) => vsw_tx_burst(port, queue, _items, (ushort)Length);

    /// <summary>rte_pktmbuf_free_bulk of every frame in this array.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void FreeBulk() => rte_pktmbuf_free_bulk(_items, (uint)Length);

    /// <summary>rte_pktmbuf_alloc_bulk: fills the whole array with fresh mbufs from <paramref name="pool"/>, or takes none and returns false.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool AllocBulk(IntPtr pool) => vsw_pktmbuf_alloc_bulk(pool, _items, (uint)Length) == 0;

    /// <summary>rte_vhost_dequeue_burst: the guest's frames from its tx vring <paramref name="vring"/>, copied into fresh mbufs from <paramref name="pool"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int VhostDequeueBurst(int vid, ushort vring, IntPtr pool) => rte_vhost_dequeue_burst(vid, vring, pool, _items, (ushort)Length);

    /// <summary>rte_vhost_enqueue_burst: copies this array's frames, from the front, into the guest's rx vring <paramref name="vring"/>; the mbufs stay the caller's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int VhostEnqueueBurst(int vid, ushort vring) => rte_vhost_enqueue_burst(vid, vring, _items, (ushort)Length);

    // Not NoInlining: the JIT learns that a call never returns only by trying to inline it, and a
    // call it thinks may return makes every checked access spill the loop's registers around it.
    [DoesNotReturn]
    private static void ThrowIndexOutOfRange(int index, int length) =>
        throw new IndexOutOfRangeException($"mbuf array index {index} is outside its {length} entries");
}
