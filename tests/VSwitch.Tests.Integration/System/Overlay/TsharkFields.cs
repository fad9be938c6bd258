// tshark as an independent dissector of the tunnels on the wire: chosen fields of every frame
// that matches a display filter, first occurrence only (the outer header of a tunnelled frame),
// with IPv4 and UDP checksums verified.
using System.Globalization;
using VSwitch.Tests.Integration.Infrastructure;
using VSwitch.Tests.Integration.Pcap;

namespace VSwitch.Tests.Integration.SystemTests.Overlay;

public static class TsharkFields
{
    /// <summary>
    /// tshark's start alone (`tshark -v`) took 13.4 s in the KVM lane's one-vCPU TCG sandbox on
    /// 2026-12-04 (host load average about 20; the sandbox's boot took 20 to 70 s that day, so
    /// load alone stretches it 3.5 times): 60 s was too close. On the host a run takes about a second.
    /// </summary>
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(180);

    /// <summary>One row per matching frame: frame.number, then <paramref name="fields"/> in order ("" where absent).</summary>
    public static async Task<IReadOnlyList<string[]>> ReadAsync(string capture, string filter, params string[] fields)
    {
        string[] args =
        [
            "-r", capture, "-n", "-Y", filter,
            "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
            "-T", "fields", "-E", "header=n", "-E", "separator=/t", "-E", "occurrence=f",
            "-e", "frame.number", .. fields.SelectMany(field => new[] { "-e", field }),
        ];
        string stdout = (await ProcessRunner.RunCheckedAsync(Tshark.Executable, args, RunTimeout)).Stdout;
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.TrimEnd('\r').Split('\t'))
            .Select(f => f.Length == fields.Length + 1 ? f : throw new InvalidDataException($"tshark -r {capture}: {f.Length} fields in '{string.Join('\t', f)}'"))
            .ToList();
    }

    /// <summary>A VNI as tshark prints it: decimal for VXLAN, 0x-hex for GENEVE.</summary>
    public static int? Vni(string field) =>
        field.Length == 0 ? null
        : field.StartsWith("0x", StringComparison.Ordinal) ? int.Parse(field[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
        : int.Parse(field, CultureInfo.InvariantCulture);
}
