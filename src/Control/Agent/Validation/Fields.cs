// The checks every kind of resource shares: names, ranges, addresses, paths. Each takes the
// field's name as the API spells it ("nics[0].mac") and refuses with it, so a client can point
// at the exact field; each returns the value in its one canonical spelling, which is what is
// stored and compared (02:00:00:00:00:0A and 02:00:00:00:00:0a are one MAC).
using System.Globalization;
using System.Text.RegularExpressions;

namespace VSwitch.Control.Agent.Validation;

public static partial class Fields
{
    /// <summary>A DNS label, lower case (RFC 1123 2.1): usable as a file, cgroup and interface name part.</summary>
    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$")]
    private static partial Regex NamePattern();

    /// <summary>Six octets in hexadecimal, separated by colons (IEEE 802 canonical form).</summary>
    [GeneratedRegex("^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")]
    private static partial Regex MacPattern();

    /// <summary>Dotted decimal without leading zeros, which some parsers read as octal (inet_aton(3)).</summary>
    [GeneratedRegex(@"^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$")]
    private static partial Regex Ipv4Pattern();

    public static T Required<T>(T? value, string field) where T : class =>
        value ?? throw Refusal.Malformed(field, "is required");

    public static string Name(string? value, string field = "name")
    {
        Required(value, field);
        if (!NamePattern().IsMatch(value!))
        {
            throw Refusal.Malformed(field,
                $"'{value}' is not a name: 1 to 63 lower-case letters, digits and '-', starting with a letter or digit");
        }
        return value!;
    }

    /// <summary>Records that <paramref name="field"/> holds <paramref name="value"/>; refuses a value an earlier field of the request holds (400, naming it).</summary>
    /// <param name="seen">The request's values so far, each with the field that holds it.</param>
    public static void Once(Dictionary<string, string> seen, string value, string field)
    {
        if (!seen.TryAdd(value, field))
            throw Refusal.Malformed(field, $"{value} is also {seen[value]}");
    }

    public static long InRange(long value, long min, long max, string field) =>
        value >= min && value <= max ? value : throw Refusal.Malformed(field, $"{value} is out of range {min}..{max}");

    /// <summary>A unicast MAC in lower case; a multicast (group bit set) or all-zero one cannot be a NIC's.</summary>
    public static string UnicastMac(string? value, string field)
    {
        Required(value, field);
        if (!MacPattern().IsMatch(value!))
            throw Refusal.Malformed(field, $"'{value}' is not a MAC address (six hex octets separated by ':', 02:00:00:00:00:01)");
        string mac = value!.ToLowerInvariant();
        if ((Convert.ToByte(mac[..2], 16) & 0x01) != 0)
            throw Refusal.Malformed(field, $"{mac} is a multicast MAC (the first octet's lowest bit is set); a NIC needs a unicast one");
        if (mac == "00:00:00:00:00:00")
            throw Refusal.Malformed(field, "00:00:00:00:00:00 is not a NIC's MAC");
        return mac;
    }

    /// <summary>
    /// A host's IPv4 address in dotted decimal: not 0.0.0.0, not loopback (127/8), not multicast
    /// (224/4), not reserved (240/4) nor the limited broadcast, none of which a VM or a VTEP can
    /// send from (RFC 1122 3.2.1.3, RFC 5771, RFC 1112 4).
    /// </summary>
    public static string UnicastIpv4(string? value, string field)
    {
        Required(value, field);
        int[] octets = Ipv4Pattern().IsMatch(value!) ? [.. value!.Split('.').Select(part => int.Parse(part, CultureInfo.InvariantCulture))] : [];
        if (octets.Length != 4 || octets.Any(octet => octet > 255))
            throw Refusal.Malformed(field, $"'{value}' is not an IPv4 address (four decimal octets 0..255, 10.0.0.5)");
        if (value is "0.0.0.0" || octets[0] == 127 || octets[0] >= 224)
            throw Refusal.Malformed(field, $"{value} is not a unicast host address (0.0.0.0, 127/8 and 224.0.0.0 and above are not)");
        return value!;
    }

    /// <summary>An absolute path naming an existing regular file (following symlinks), as a VMM will open it.</summary>
    public static string ExistingFile(string? value, string field)
    {
        Required(value, field);
        if (!Path.IsPathFullyQualified(value!))
            throw Refusal.Malformed(field, $"'{value}' is not an absolute path");
        if (!File.Exists(value))
            throw Refusal.Malformed(field, Directory.Exists(value) ? $"{value} is a directory, not a file" : $"{value} does not exist");
        return value!;
    }
}
