// What a finished run of either system topology (SystemRun, Overlay/OverlayRun) checks in
// vswitchd's counters: one port's ledger against the captures at its two ends, the drop
// counters, and the text a failure shows.
using System.Text;
using VSwitch.Tests.Integration.Infrastructure;

namespace VSwitch.Tests.Integration.SystemTests;

internal static class RunChecks
{
    /// <summary>
    /// The port's rx and tx equal the frames captured going into it and out of it, DPDK's own
    /// counts agree, and DPDK lost nothing.
    /// </summary>
    public static void PortLedger(ExpectedCounts expect, string port, PortCounters p, long framesInto, long framesOutOf)
    {
        expect.Equal($"{port}.rx == frames into it (capture)", framesInto, p.Rx);
        expect.Equal($"{port}.tx == frames out of it (capture)", framesOutOf, p.Tx);
        expect.Equal($"{port}.ipackets == rx", p.Rx, p.Ipackets);
        expect.Equal($"{port}.opackets == tx", p.Tx, p.Opackets);
        expect.Equal($"{port}.imissed", 0, p.Imissed);
        expect.Equal($"{port}.ierrors", 0, p.Ierrors);
        expect.Equal($"{port}.oerrors", 0, p.Oerrors);
        expect.Equal($"{port}.rx_nombuf", 0, p.RxNoMbuf);
    }

    /// <summary>Every drop reason is 0 except those named, which have exactly the given counts.</summary>
    /// <param name="who">Names the vswitchd in messages when a run has more than one; "" otherwise.</param>
    public static void Drops(ExpectedCounts expect, string who, VswitchdCounters counters, IReadOnlyDictionary<string, long>? expected)
    {
        expected ??= new Dictionary<string, long>();
        string prefix = who.Length == 0 ? "" : who + " ";
        foreach (string reason in expected.Keys)
            expect.True(counters.Drops.ContainsKey(reason), $"{(who.Length == 0 ? "vswitchd" : who)} reports no drop reason '{reason}' (has: {string.Join(", ", counters.Drops.Keys)})");
        foreach ((string reason, long count) in counters.Drops)
            expect.Equal($"{prefix}drops.{reason}", expected.GetValueOrDefault(reason), count);
    }

    /// <summary>The forwarding and drop counters in one line.</summary>
    public static string Headline(VswitchdCounters c) =>
        $"unicast {c.Unicast}, flooded {c.Flooded}, arp_replies {c.ArpReplies}, drops {c.TotalDrops} " +
        $"({string.Join(", ", c.Drops.Where(d => d.Value != 0).Select(d => $"{d.Key} {d.Value}"))})";

    /// <summary>A capture as a failure shows it: its frames grouped, a marked frame by its marker.</summary>
    public static void AppendFrames(StringBuilder text, string heading, IReadOnlyList<FrameFacts> frames)
    {
        text.Append($"{heading} {frames.Count} frame(s):\n");
        foreach (var group in frames.GroupBy(f => f.Marker is null ? f.ToString() : $"marker {f.Marker} {f.EtherTypeName()}"))
            text.Append($"  {group.Count(),4} x {group.Key}\n");
    }
}
