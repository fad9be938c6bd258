// Membership in the short lists the hot path checks: a VM's one or two bound addresses, the one
// or two GENEVE options agreed with a host. A plain loop: Span.IndexOf's vectorised search costs
// more to set up than such a list takes to scan.
using System.Runtime.CompilerServices;

namespace VSwitch.Dataplane.Collections;

public static class ShortLists
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Contains(ReadOnlySpan<uint> list, uint value)
    {
        foreach (uint item in list)
        {
            if (item == value)
                return true;
        }
        return false;
    }
}
