// Where an NBD export is, written as the NBD URI specification has it
// (github.com/NetworkBlockDevice/nbd, doc/uri.md): nbd://host[:port]/export over TCP (port
// 10809 when none is given), or nbd+unix:///export?socket=/path over a Unix socket. TLS
// (nbds://) is not supported and is refused by name.
namespace VSwitch.Vmm.Volumes.Nbd;

public sealed record NbdAddress(string? Host, int Port, string? SocketPath, string Export)
{
    public const int DefaultPort = 10809;

    /// <summary>Parses <paramref name="uri"/>; throws <see cref="FormatException"/> saying what is wrong with it.</summary>
    public static NbdAddress Parse(string uri)
    {
        const string Example = "expected nbd://host[:port]/export or nbd+unix:///export?socket=/path";
        if (!Uri.TryCreate(uri, UriKind.Absolute, out Uri? parsed))
            throw new FormatException($"'{uri}' is not a URI; {Example}");
        string export = Uri.UnescapeDataString(parsed.AbsolutePath.TrimStart('/'));
        switch (parsed.Scheme)
        {
            case "nbd":
                if (string.IsNullOrEmpty(parsed.Host))
                    throw new FormatException($"'{uri}' names no host; {Example}");
                if (parsed.Query.Length > 0)
                    throw new FormatException($"'{uri}': nbd:// takes no query; {Example}");
                return new NbdAddress(parsed.DnsSafeHost, parsed.IsDefaultPort || parsed.Port < 0 ? DefaultPort : parsed.Port, null, export);
            case "nbd+unix":
                if (!string.IsNullOrEmpty(parsed.Host))
                    throw new FormatException($"'{uri}': nbd+unix:// names no host (three slashes: nbd+unix:///export?socket=...)");
                string? socket = null;
                foreach (string pair in parsed.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
                {
                    string[] kv = pair.Split('=', 2);
                    if (kv[0] != "socket" || kv.Length != 2)
                        throw new FormatException($"'{uri}': unknown query '{pair}'; nbd+unix:// takes socket=/path only");
                    socket = Uri.UnescapeDataString(kv[1]);
                }
                if (string.IsNullOrEmpty(socket) || !socket.StartsWith('/'))
                    throw new FormatException($"'{uri}' needs socket=/absolute/path; {Example}");
                return new NbdAddress(null, 0, socket, export);
            case "nbds" or "nbds+unix":
                throw new FormatException($"'{uri}': NBD over TLS is not supported; {Example}");
            default:
                throw new FormatException($"'{uri}': scheme {parsed.Scheme} is not NBD's; {Example}");
        }
    }

    public override string ToString() => SocketPath is null
        ? $"nbd://{Host}:{Port}/{Uri.EscapeDataString(Export)}"
        : $"nbd+unix:///{Uri.EscapeDataString(Export)}?socket={SocketPath}";
}
