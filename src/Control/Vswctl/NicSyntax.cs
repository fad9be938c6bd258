// `vm create --nic mac=02:00:00:00:00:01,ip=10.0.0.5[,ip=...][,prefix=24]`: one NIC as key=value
// pairs. vswctl reads the keys and leaves the values to the agent, which checks them all (a MAC's
// form, an address's uniqueness in the tenant) and names the field ("nics[0].mac"). `vm show`
// prints a NIC in the same form, so what it prints can be typed back.
using System.CommandLine;
using System.Globalization;
using VSwitch.Control.Api;

namespace VSwitch.Control.Vswctl;

internal static class NicSyntax
{
    private const string Mac = "mac", Ip = "ip", Prefix = "prefix";
    private const string Keys = $"keys: {Mac}, {Ip}, {Prefix}";

    /// <summary>--nic, repeatable: each one a NIC, in the order given (the guest's eth0, eth1, ...).</summary>
    public static Option<Nic[]> Option() => new("--nic")
    {
        Description = $"a NIC, as {Mac}=02:00:00:00:00:01,{Ip}=10.0.0.5[,{Ip}=...][,{Prefix}=24]; repeat for more",
        HelpName = "NIC",
        CustomParser = result =>
        {
            var nics = new List<Nic>();
            foreach (var token in result.Tokens)
            {
                try
                {
                    nics.Add(Parse(token.Value));
                }
                catch (FormatException e)
                {
                    result.AddError(e.Message);
                }
            }
            return [.. nics];
        },
    };

    /// <exception cref="FormatException">The text is not a NIC; the message starts "--nic:" and names the key.</exception>
    public static Nic Parse(string text)
    {
        string? mac = null;
        int? prefix = null;
        var addresses = new List<string>();
        foreach (string pair in text.Split(','))
        {
            int equals = pair.IndexOf('=');
            if (equals < 0)
                throw Error($"'{pair}' is not key=value; {Keys}");
            string key = pair[..equals], value = pair[(equals + 1)..];
            if (key is not (Mac or Ip or Prefix))
                throw Error($"unknown key '{key}'; {Keys}");
            if (value.Length == 0)
                throw Error($"{key} needs a value");
            switch (key)
            {
                case Ip:
                    addresses.Add(value);
                    break;
                case Mac when mac is null:
                    mac = value;
                    break;
                case Prefix when prefix is null:
                    prefix = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int length) ? length
                        : throw Error($"{Prefix} '{value}' is not a number");
                    break;
                default:
                    throw Error($"{key} is given twice");
            }
        }
        if (mac is null)
            throw Error($"{Mac} is required ({Mac}=02:00:00:00:00:01)");
        if (addresses.Count == 0)
            throw Error($"{Ip} is required ({Ip}=10.0.0.5; repeat it for more addresses)");
        // Left out, the prefix is the API's default (Resources.cs), not one vswctl would restate.
        var nic = new Nic(mac, addresses);
        return prefix is { } given ? nic with { Prefix = given } : nic;
    }

    /// <summary>The NIC as --nic takes it.</summary>
    public static string Format(Nic nic) =>
        string.Join(',', [$"{Mac}={nic.Mac}", .. nic.Ipv4.Select(a => $"{Ip}={a}"), $"{Prefix}={nic.Prefix}"]);

    private static FormatException Error(string message) => new($"--nic: {message}");
}
