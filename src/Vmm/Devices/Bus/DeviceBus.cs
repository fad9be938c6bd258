// Address ranges -> devices, for port I/O (x86 IN/OUT, 64 KiB of ports) and MMIO exits.
// KVM hands user space every access the in-kernel devices (PIC, IOAPIC, LAPIC, PIT) do not take
// (Documentation/virt/kvm/api.rst section 5, KVM_EXIT_IO and KVM_EXIT_MMIO). An access that hits
// no device is what an empty ISA/PCI bus does: reads float to all-ones, writes vanish. Such
// accesses are normal while Linux probes legacy hardware, so they are counted (per address,
// logged once when debugging) and never stop the VM. A guest can touch any of 2^64 MMIO
// addresses, so only the first TrackedAddresses distinct ones get their own count; the rest
// share one, and the VMM's memory stays bounded whatever the guest does.
using System.Collections.Concurrent;

namespace VSwitch.Vmm.Devices.Bus;

public sealed class DeviceBus
{
    private readonly string _name;
    private readonly Action<string>? _debugLog;
    private Range[] _ranges = [];
    private readonly ConcurrentDictionary<ulong, long> _unclaimed = new();
    private long _untrackedAccesses;

    /// <summary>Distinct unclaimed addresses counted one by one: Linux's legacy probing touches a few dozen.</summary>
    public const int TrackedAddresses = 256;
    private long _unclaimedReads;
    private long _unclaimedWrites;

    private readonly record struct Range(ulong Base, ulong Length, IBusDevice Device, string Name)
    {
        public ulong End => Base + Length;
    }

    /// <param name="name">"pio" or "mmio": how the bus shows in log lines.</param>
    /// <param name="debugLog">Receives one line the first time an unclaimed address is touched; null for silence.</param>
    public DeviceBus(string name, Action<string>? debugLog = null)
    {
        _name = name;
        _debugLog = debugLog;
    }

    /// <summary>
    /// Puts <paramref name="device"/> at [<paramref name="baseAddress"/>, + <paramref name="length"/>).
    /// Done while building the machine, before any vCPU runs: ranges never change afterwards.
    /// </summary>
    public void Register(ulong baseAddress, ulong length, IBusDevice device, string name)
    {
        if (length == 0 || baseAddress > ulong.MaxValue - length)
            throw new ArgumentOutOfRangeException(nameof(length), $"{_name} range of {name} at 0x{baseAddress:x} (+{length}) is empty or wraps");
        foreach (Range r in _ranges)
        {
            if (baseAddress < r.End && r.Base < baseAddress + length)
                throw new ArgumentException($"{_name} range of {name} [0x{baseAddress:x}, 0x{baseAddress + length:x}) overlaps {r.Name} [0x{r.Base:x}, 0x{r.End:x})");
        }
        _ranges = [.. _ranges, new Range(baseAddress, length, device, name)];
        Array.Sort(_ranges, static (a, b) => a.Base.CompareTo(b.Base));
    }

    /// <summary>Accesses that hit no device: reads and writes.</summary>
    public (long Reads, long Writes) Unclaimed => (Interlocked.Read(ref _unclaimedReads), Interlocked.Read(ref _unclaimedWrites));

    /// <summary>Unclaimed accesses by address, for diagnostics: at most <see cref="TrackedAddresses"/> addresses.</summary>
    public IReadOnlyDictionary<ulong, long> UnclaimedByAddress => _unclaimed;

    /// <summary>Unclaimed accesses to addresses past the first <see cref="TrackedAddresses"/> distinct ones.</summary>
    public long UntrackedAccesses => Interlocked.Read(ref _untrackedAccesses);

    public void Read(ulong address, Span<byte> data)
    {
        data.Fill(0xFF);
        if (TryFind(address, data.Length, out Range range))
        {
            range.Device.Read(address - range.Base, data);
            return;
        }
        Interlocked.Increment(ref _unclaimedReads);
        NoteUnclaimed(address, data.Length, "read");
    }

    public void Write(ulong address, ReadOnlySpan<byte> data)
    {
        if (TryFind(address, data.Length, out Range range))
        {
            range.Device.Write(address - range.Base, data);
            return;
        }
        Interlocked.Increment(ref _unclaimedWrites);
        NoteUnclaimed(address, data.Length, "write");
    }

    // An access is the device's only if it lies wholly inside its range; one that straddles the
    // end is unclaimed (devices then never see an offset + length past their range).
    private bool TryFind(ulong address, int length, out Range found)
    {
        foreach (Range r in _ranges)
        {
            if (address < r.Base)
                break;
            if (address - r.Base < r.Length && (ulong)length <= r.Length - (address - r.Base))
            {
                found = r;
                return true;
            }
        }
        found = default;
        return false;
    }

    private void NoteUnclaimed(ulong address, int length, string access)
    {
        // Two vCPUs may both add past the limit at once; it is a bound, not an exact count.
        if (_unclaimed.Count >= TrackedAddresses && !_unclaimed.ContainsKey(address))
        {
            Interlocked.Increment(ref _untrackedAccesses);
            return;
        }
        long count = _unclaimed.AddOrUpdate(address, 1, static (_, c) => c + 1);
        if (count == 1)
            _debugLog?.Invoke($"{_name}: unclaimed {length}-byte {access} at 0x{address:x} (reads give all-ones, writes are dropped)");
    }
}
