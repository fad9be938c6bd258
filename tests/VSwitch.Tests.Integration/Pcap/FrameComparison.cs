// Compares what a port transmitted with what it should have. One worker in offline mode takes
// frames from several inputs in an order that depends on polling, so frames are compared as a
// multiset; frames from one source MAC come from one ingress port (generate.py checks that) and
// must keep their order.
using System.Text;
using VSwitch.Tests.Integration.Infrastructure;

namespace VSwitch.Tests.Integration.Pcap;

public static class FrameComparison
{
    /// <summary>Describes every difference between the captures; empty when they match.</summary>
    public static List<string> Compare(string port, IReadOnlyList<PcapFrame> expected, IReadOnlyList<PcapFrame> actual)
    {
        var problems = new List<string>();
        foreach (PcapFrame frame in actual.Where(f => f.OriginalLength != f.Data.Length))
            problems.Add($"{port}: output frame {frame.Number} truncated: {frame.Data.Length} of {frame.OriginalLength} bytes captured");

        var unmatched = new Dictionary<string, Queue<PcapFrame>>(StringComparer.Ordinal);
        foreach (PcapFrame frame in expected)
        {
            string key = Convert.ToHexString(frame.Data);
            if (!unmatched.TryGetValue(key, out Queue<PcapFrame>? queue))
                unmatched[key] = queue = new Queue<PcapFrame>();
            queue.Enqueue(frame);
        }
        var unexpected = new List<PcapFrame>();
        foreach (PcapFrame frame in actual)
        {
            if (unmatched.TryGetValue(Convert.ToHexString(frame.Data), out Queue<PcapFrame>? queue) && queue.Count > 0)
                queue.Dequeue();
            else
                unexpected.Add(frame);
        }
        List<PcapFrame> missing = unmatched.Values.SelectMany(q => q).OrderBy(f => f.Number).ToList();

        if (missing.Count > 0 || unexpected.Count > 0)
        {
            var text = new StringBuilder();
            text.Append($"{port}: {actual.Count} frame(s) out, {expected.Count} expected; {missing.Count} expected frame(s) missing, {unexpected.Count} unexpected.");
            if (missing.Count > 0)
            {
                PcapFrame first = missing[0];
                text.Append($"\n  first missing: expected frame {first.Number} ({first.Data.Length} B): {Hex(first.Data)}");
            }
            if (unexpected.Count > 0)
            {
                PcapFrame first = unexpected[0];
                text.Append($"\n  first unexpected: output frame {first.Number} ({first.Data.Length} B): {Hex(first.Data)}");
                if (Closest(first, missing) is { } near)
                    text.Append($"\n  closest missing frame is expected frame {near.Number} ({near.Data.Length} B); first difference at byte {FirstDifference(near.Data, first.Data)}");
            }
            problems.Add(text.ToString());
            return problems;
        }

        // Same multiset: now the order of each source MAC's frames.
        foreach (var group in expected.GroupBy(SourceKey))
        {
            var want = group.ToList();
            var got = actual.Where(f => SourceKey(f) == group.Key).ToList();
            for (int i = 0; i < want.Count; i++)
            {
                if (!want[i].Data.AsSpan().SequenceEqual(got[i].Data))
                {
                    problems.Add($"{port}: frames from source {group.Key} out of order: #{i + 1} of that source should be expected frame {want[i].Number} " +
                                 $"({Hex(want[i].Data)}), got output frame {got[i].Number} ({Hex(got[i].Data)})");
                    break;
                }
            }
        }
        return problems;
    }

    /// <summary>
    /// The source MAC; for a VXLAN or GENEVE frame the inner frame's source MAC, because every
    /// frame a VTEP sends has the VTEP's own source MAC whichever VM's frame it carries.
    /// </summary>
    public static string SourceKey(PcapFrame frame)
    {
        byte[] d = frame.Data;
        if (d.Length < 12)
            return "(no source MAC)";
        int inner = TunnelInnerOffset(d);
        return inner >= 0 && d.Length >= inner + 12
            ? "inner " + Convert.ToHexString(d, inner + 6, 6).ToLowerInvariant()
            : Convert.ToHexString(d, 6, 6).ToLowerInvariant();
    }

    /// <summary>Where the inner frame of an IPv4 (no options) UDP frame to 4789 or 6081 starts; -1 for any other frame.</summary>
    public static int TunnelInnerOffset(byte[] d)
    {
        if (d.Length < 50 || d[12] != 0x08 || d[13] != 0x00 || d[14] != 0x45 || d[23] != 17)
            return -1;
        int port = d[36] << 8 | d[37];
        return port switch
        {
            4789 => 50,
            6081 => 50 + (d[42] & 0x3F) * 4,
            _ => -1,
        };
    }

    public static string Hex(byte[] data) => Convert.ToHexString(data).ToLowerInvariant();

    private static PcapFrame? Closest(PcapFrame frame, List<PcapFrame> candidates) =>
        candidates.OrderBy(c => c.Data.Length == frame.Data.Length ? 0 : 1)
            .ThenBy(c => Distance(c.Data, frame.Data))
            .FirstOrDefault();

    private static int Distance(byte[] a, byte[] b)
    {
        int distance = Math.Abs(a.Length - b.Length);
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
            distance += a[i] == b[i] ? 0 : 1;
        return distance;
    }

    private static int FirstDifference(byte[] a, byte[] b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++)
        {
            if (a[i] != b[i])
                return i;
        }
        return n;
    }
}
