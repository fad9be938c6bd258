// tshark as an independent dissector of what vswitchd wrote: every frame must dissect without a
// malformed-packet marker or an expert item of warning severity or worse (checksums verified),
// and every ARP reply must name addresses that the scenario's config binds.
using System.Globalization;
using VSwitch.Tests.Integration.Infrastructure;

namespace VSwitch.Tests.Integration.Pcap;

/// <param name="EthDestination">The outermost Ethernet destination.</param>
/// <param name="EthSources">Every Ethernet header's source, outermost first (a tunnel frame has two).</param>
/// <param name="Vni">The VXLAN or GENEVE VNI, when tshark decoded a tunnel.</param>
/// <param name="IpChecksumStatus">The outermost IPv4 header's checksum status (epan PROTO_CHECKSUM_E_*: 0 bad, 1 good, 2 unverified, 3 not present).</param>
/// <param name="UdpChecksumStatus">The outermost UDP checksum status, same values.</param>
public sealed record TsharkFrame(int Number, string Protocols, IReadOnlyList<int> ExpertSeverities, string ExpertMessages, bool Malformed,
    string EthDestination, int? ArpOpcode, string ArpSenderMac, string ArpSenderIp, string ArpTargetMac, string ArpTargetIp,
    IReadOnlyList<string> EthSources, IReadOnlyList<string> EthDestinations, uint? Vni, int? IpChecksumStatus, int? UdpChecksumStatus)
{
    public bool IsTunnel => Protocols.Contains(":vxlan:", StringComparison.Ordinal) || Protocols.Contains(":geneve:", StringComparison.Ordinal);
}

public static class Tshark
{
    /// <summary>epan/proto.h PI_WARN: expert items at or above this severity fail a capture.</summary>
    public const int SeverityWarning = 0x00600000;

    private static readonly string[] Fields =
    [
        "frame.number", "frame.protocols", "_ws.expert.severity", "_ws.expert.message", "_ws.malformed", "eth.dst",
        "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
        "eth.src", "vxlan.vni", "geneve.vni", "ip.checksum.status", "udp.checksum.status",
    ];

    /// <summary>epan/proto.h PROTO_CHECKSUM_E_GOOD and PROTO_CHECKSUM_E_NOT_PRESENT (a UDP checksum of 0).</summary>
    public const int ChecksumGood = 1, ChecksumNotPresent = 3;

    /// <summary>The tshark executable on PATH; throws (never skips) when it is not installed.</summary>
    public static string Executable => s_executable ??= Find();

    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    private static string? s_executable;

    public static async Task<List<TsharkFrame>> DissectAsync(string capture)
    {
        string[] args =
        [
            "-r", capture, "-n",
            "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
            "-T", "fields", "-E", "header=n", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|",
            .. Fields.SelectMany(field => new[] { "-e", field }),
        ];
        string stdout = (await ProcessRunner.RunCheckedAsync(Executable, args, RunTimeout)).Stdout;

        var frames = new List<TsharkFrame>();
        foreach (string line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.TrimEnd('\r').Split('\t');
            if (f.Length < Fields.Length)
                throw new InvalidDataException($"tshark -r {capture}: {f.Length} fields in '{line}', expected {Fields.Length}");
            frames.Add(new TsharkFrame(
                int.Parse(f[0], CultureInfo.InvariantCulture),
                f[1],
                f[2].Split('|', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList(),
                f[3],
                f[4].Length > 0,
                f[5].Split('|')[0].ToLowerInvariant(),
                f[6].Length > 0 ? int.Parse(f[6].Split('|')[0], CultureInfo.InvariantCulture) : null,
                f[7].ToLowerInvariant(), f[8], f[9].ToLowerInvariant(), f[10],
                f[11].ToLowerInvariant().Split('|', StringSplitOptions.RemoveEmptyEntries),
                f[5].ToLowerInvariant().Split('|', StringSplitOptions.RemoveEmptyEntries),
                ParseVni(f[12].Length > 0 ? f[12] : f[13]),
                FirstInt(f[14]), FirstInt(f[15])));
        }
        return frames;
    }

    /// <summary>
    /// Checks one port's transmitted capture: tshark sees as many frames as our reader, none of them
    /// malformed or with a warning/error expert item, and every ARP reply delivered to a VM port
    /// names as sender a VM of that port's tenant with one of its own IPv4 addresses and, when
    /// addressed to the port's VM, that VM as target.
    /// </summary>
    public static async Task<(List<string> Problems, int ArpReplies)> CheckAsync(PcapScenario scenario, string port, string capture, int frameCount)
    {
        var problems = new List<string>();
        List<TsharkFrame> frames = await DissectAsync(capture);
        IReadOnlyList<PcapFrame> bytes = PcapFile.Read(capture);
        int arpReplies = 0;
        if (frames.Count != frameCount)
            problems.Add($"{port}: tshark dissected {frames.Count} frame(s), the capture holds {frameCount}");
        ScenarioVm? owner = scenario.VmOn(port);
        foreach (TsharkFrame frame in frames)
        {
            string where = $"{port}: frame {frame.Number} ({frame.Protocols})";
            if (frame.Malformed)
                problems.Add($"{where}: tshark marks it malformed: {frame.ExpertMessages}");
            else if (frame.ExpertSeverities.Any(s => s >= SeverityWarning))
                problems.Add($"{where}: tshark expert warning/error: {frame.ExpertMessages}");
            if (frame.IsTunnel)
            {
                problems.AddRange(CheckTunnel(scenario, where, frame, bytes[frame.Number - 1].Data));
                continue;
            }
            if (frame.ArpOpcode != 2)
                continue;
            arpReplies++;
            if (owner is null && scenario.Overlay is { } overlay && port == overlay.Uplink)
            {
                // The uplink answers for its VTEP address only, with the overlay's MAC.
                if (frame.ArpSenderMac != overlay.Mac || frame.ArpSenderIp != overlay.Vtep)
                    problems.Add($"{where}: ARP reply on the uplink says {frame.ArpSenderIp} is at {frame.ArpSenderMac}, not our VTEP {overlay.Vtep} at {overlay.Mac}");
                continue;
            }
            if (owner is null)
            {
                problems.Add($"{where}: ARP reply on {port}, which has no VM");
                continue;
            }
            ScenarioVm? sender = scenario.Vms.FirstOrDefault(vm => vm.Tenant == owner.Tenant && vm.Mac == frame.ArpSenderMac);
            if (sender is null)
                problems.Add($"{where}: ARP reply sender {frame.ArpSenderMac} is no VM of tenant '{owner.Tenant}'");
            else if (!sender.Ipv4.Contains(frame.ArpSenderIp))
                problems.Add($"{where}: ARP reply says {frame.ArpSenderIp} is at {frame.ArpSenderMac}, but {sender.Name} holds {string.Join(", ", sender.Ipv4)}");
            if (frame.EthDestination == owner.Mac && (frame.ArpTargetMac != owner.Mac || !owner.Ipv4.Contains(frame.ArpTargetIp)))
                problems.Add($"{where}: ARP reply to {owner.Name} targets {frame.ArpTargetMac}/{frame.ArpTargetIp}, not {owner.Mac}/{string.Join(" or ", owner.Ipv4)}");
        }
        return (problems, arpReplies);
    }

    private static int? FirstInt(string field) =>
        field.Length > 0 ? int.Parse(field.Split('|')[0], CultureInfo.InvariantCulture) : null;

    // tshark prints vxlan.vni in decimal and geneve.vni in hex ("0x001389").
    private static uint? ParseVni(string field)
    {
        if (field.Length == 0)
            return null;
        string first = field.Split('|')[0];
        return first.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? uint.Parse(first.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : uint.Parse(first, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// A VXLAN/GENEVE frame vswitchd sent: tshark must find the outer IPv4 checksum good and the
    /// UDP checksum absent (0, as vswitchd sends it), the VNI of the tenant whose VM sent the
    /// inner frame, and the inner frame's addresses where our own reading of the bytes puts them.
    /// </summary>
    private static IEnumerable<string> CheckTunnel(PcapScenario scenario, string where, TsharkFrame frame, byte[] bytes)
    {
        if (scenario.Overlay is not { } overlay)
        {
            yield return $"{where}: a tunnel frame in a scenario without an overlay";
            yield break;
        }
        if (frame.IpChecksumStatus != ChecksumGood)
            yield return $"{where}: outer IPv4 checksum status {frame.IpChecksumStatus}, expected {ChecksumGood} (good)";
        if (frame.UdpChecksumStatus != ChecksumNotPresent)
            yield return $"{where}: outer UDP checksum status {frame.UdpChecksumStatus}, expected {ChecksumNotPresent} (not present: vswitchd sends 0)";
        int inner = FrameComparison.TunnelInnerOffset(bytes);
        if (inner < 0 || bytes.Length < inner + 14)
        {
            yield return $"{where}: tshark decodes a tunnel our reading does not find";
            yield break;
        }
        string innerSource = FrameComparison.Hex(bytes[(inner + 6)..(inner + 12)]);
        string innerDestination = FrameComparison.Hex(bytes[inner..(inner + 6)]);
        if (frame.EthSources.Count < 2 || frame.EthSources[1].Replace(":", "") != innerSource
            || frame.EthDestinations.Count < 2 || frame.EthDestinations[1].Replace(":", "") != innerDestination)
            yield return $"{where}: tshark's inner Ethernet {string.Join(",", frame.EthSources)} -> {string.Join(",", frame.EthDestinations)} is not the inner frame's {innerSource} -> {innerDestination}";
        ScenarioVm? sender = scenario.Vms.FirstOrDefault(vm => vm.Port.Length > 0 && vm.Mac.Replace(":", "") == innerSource);
        if (sender is null)
            yield return $"{where}: inner source {innerSource} is no local VM";
        else if (!overlay.VniByTenant.TryGetValue(sender.Tenant, out uint vni) || frame.Vni != vni)
            yield return $"{where}: VNI {frame.Vni}, but the inner frame is from {sender.Name} of tenant '{sender.Tenant}' (VNI {(overlay.VniByTenant.TryGetValue(sender.Tenant, out uint v) ? v : 0)})";
    }

    private static string Find()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, "tshark");
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException("tshark is not installed (not on PATH): the pcap lane needs it to re-dissect vswitchd's output " +
                                        "(DEBIAN_FRONTEND=noninteractive apt-get install -y tshark)");
    }
}
