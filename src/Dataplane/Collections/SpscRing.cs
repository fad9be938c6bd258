// A bounded single-producer single-consumer ring over a preallocated array: how the control side
// and a worker hand each other small items without locks and without allocating (the Lamport
// queue; head and tail are each written by one side only and published with Volatile.Write).
namespace VSwitch.Dataplane.Collections;

public sealed class SpscRing<T> where T : struct
{
    private readonly T[] _items;
    private readonly int _mask;
    private long _head; // next slot to write; the producer's
    private long _tail; // next slot to read; the consumer's

    public SpscRing(int capacity)
    {
        if (capacity <= 0 || (capacity & (capacity - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "a power of two");
        _items = new T[capacity];
        _mask = capacity - 1;
    }

    public int Capacity => _items.Length;

    public bool IsEmpty => Volatile.Read(ref _tail) == Volatile.Read(ref _head);

    /// <summary>Producer side: false (and nothing written) when the ring is full.</summary>
    public bool TryWrite(in T item)
    {
        long head = _head;
        if (head - Volatile.Read(ref _tail) >= _items.Length)
            return false;
        _items[head & _mask] = item;
        Volatile.Write(ref _head, head + 1);
        return true;
    }

    /// <summary>Consumer side: false when the ring is empty.</summary>
    public bool TryRead(out T item)
    {
        long tail = _tail;
        if (tail == Volatile.Read(ref _head))
        {
            item = default;
            return false;
        }
        item = _items[tail & _mask];
        Volatile.Write(ref _tail, tail + 1);
        return true;
    }
}
