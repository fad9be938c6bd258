// A tcpdump capture on one interface, in the root namespace or in a network namespace, written
// as classic pcap. Usually one direction only (tcpdump -Q): on a VM's interface "in" is what
// the switch delivered to it; on the switch's side of the veth, what the VM sent.
// Not the filter primitive "inbound": libpcap filters the frames already in its ring when it
// installs a filter in user space, where "inbound" (a kernel-only packet-type load) rejects
// them; the first frame(s) after start were lost that way.
// Start returns once tcpdump reports it is listening; Stop asks it to finish (SIGINT), checks
// its summary against the file, and reads the frames.
using System.Text.RegularExpressions;

namespace VSwitch.Tests.Integration.Infrastructure;

public enum CaptureDirection { In, Out, InOut }

public sealed partial class PacketCapture : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    private const int SnapshotLength = 4096;

    private readonly BackgroundProcess _tcpdump;

    public string Label { get; }
    public string Interface { get; }
    public string PcapPath { get; }

    private PacketCapture(string label, string device, string path, BackgroundProcess tcpdump)
    {
        Label = label;
        Interface = device;
        PcapPath = path;
        _tcpdump = tcpdump;
    }

    /// <summary>Starts tcpdump on <paramref name="device"/> (inside <paramref name="ns"/>, or in the root namespace when null).</summary>
    /// <param name="bufferKiB">The kernel capture buffer (tcpdump -B); null: tcpdump's default (2 MiB), which a TCP stream through a tunnel can overrun.</param>
    public static async Task<PacketCapture> StartAsync(string label, NetworkNamespace? ns, string device, string pcapPath,
        CaptureDirection direction = CaptureDirection.In, int? bufferKiB = null)
    {
        string[] args =
        [
            .. bufferKiB is int size ? new[] { "-B", size.ToString() } : [],
            "-i", device,
            "-Q", direction switch { CaptureDirection.In => "in", CaptureDirection.Out => "out", _ => "inout" },
            // Deliver each packet as it arrives (no TPACKET_V3 block timeout holding frames back
            // at SIGINT) and write it out at once.
            "--immediate-mode", "-U",
            // A snapshot length above any frame these tests send, not 0 (262144): in
            // immediate mode libpcap uses TPACKET_V2, whose ring slots are sized by it. With -s 0
            // the 8 MiB ring held 133 frames (a TCP burst while tcpdump waited for a CPU lost
            // some); with 4096 it holds 2009. StopAsync refuses a truncated frame.
            "-n", "-s", SnapshotLength.ToString(),
            // Debian's tcpdump switches to user 'tcpdump' after opening the device; stay root so it
            // can write into the test's work directory.
            "-Z", "root",
            "-w", pcapPath,
        ];
        BackgroundProcess process = ns is null
            ? BackgroundProcess.Start($"tcpdump[{label}]", "tcpdump", args)
            : ns.Start($"tcpdump[{label}]", "tcpdump", args);
        var capture = new PacketCapture(label, device, pcapPath, process);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await process.WaitForLineAsync(line => line.Contains("listening on", StringComparison.Ordinal), StartTimeout, "'listening on' from tcpdump");
            TestOutput.Write($"tcpdump[{label}] listening {clock.Elapsed.TotalSeconds:F1} s after its start");
        }
        catch
        {
            await capture.DisposeAsync();
            throw;
        }
        return capture;
    }

    /// <summary>The frames written so far, while tcpdump keeps running (a partly written last record is left out).</summary>
    public IReadOnlyList<PcapFrame> ReadSoFar() =>
        File.Exists(PcapPath) ? PcapFile.Read(PcapPath, live: true) : [];

    /// <summary>
    /// Stops tcpdump and returns the captured frames. Throws if the kernel dropped or cut frames for
    /// it, or if the file does not hold what tcpdump says it captured. ("received by filter" is
    /// no completeness check: it counts frames of both directions before -Q sorts them.)
    /// Callers make sure nothing is in flight when they stop a capture.
    /// </summary>
    public async Task<IReadOnlyList<PcapFrame>> StopAsync()
    {
        int code = await _tcpdump.StopAsync(Signals.SIGINT, StopTimeout);
        if (code != 0)
            throw new InvalidOperationException($"tcpdump for {Label} exited with {code}.\n{_tcpdump.Describe()}");
        IReadOnlyList<PcapFrame> frames = PcapFile.Read(PcapPath);
        Match summary = SummaryPattern().Match(_tcpdump.Stderr);
        if (!summary.Success)
            throw new InvalidOperationException($"tcpdump for {Label} printed no capture statistics.\n{_tcpdump.Describe()}");
        long captured = long.Parse(summary.Groups[1].Value);
        long dropped = long.Parse(summary.Groups[2].Value);
        if (dropped != 0 || captured != frames.Count)
            throw new InvalidOperationException(
                $"capture {Label} is incomplete: {captured} captured, {dropped} dropped by kernel, {frames.Count} in {PcapPath}; " +
                $"counts from it would lie.\n{_tcpdump.Describe()}");
        if (frames.FirstOrDefault(f => f.OriginalLength > f.Data.Length) is { } cut)
            throw new InvalidOperationException($"capture {Label}: frame {cut.Number} is {cut.OriginalLength} bytes, longer than the {SnapshotLength}-byte snapshot");
        return frames;
    }

    // The exit summary: "3 packets captured", "3 packets received by filter", "0 packets dropped
    // by kernel", one per line ("1 packet captured" in the singular).
    [GeneratedRegex(@"(\d+) packets? captured\s+\d+ packets? received by filter\s+(\d+) packets? dropped by kernel")]
    private static partial Regex SummaryPattern();

    public ValueTask DisposeAsync() => _tcpdump.DisposeAsync();
}
