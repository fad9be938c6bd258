// The NBD URIs a disk may name (doc/uri.md of the NBD project): TCP with or without a port, Unix
// sockets with their socket= query, and clear refusals for everything else.
using VSwitch.Vmm.Volumes.Nbd;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Volumes;

public class NbdAddressTests
{
    [Theory]
    [InlineData("nbd://storage.example/vol-7", "storage.example", 10809, null, "vol-7")]
    [InlineData("nbd://10.0.0.5:10900/data", "10.0.0.5", 10900, null, "data")]
    [InlineData("nbd://[fd00::5]:10900/data", "fd00::5", 10900, null, "data")]
    [InlineData("nbd://10.0.0.5", "10.0.0.5", 10809, null, "")]
    [InlineData("nbd+unix:///vm%201?socket=/run/nbd.sock", null, 0, "/run/nbd.sock", "vm 1")]
    [InlineData("nbd+unix:///?socket=/run/nbd.sock", null, 0, "/run/nbd.sock", "")]
    public void Parses_tcp_and_unix_socket_exports(string uri, string? host, int port, string? socket, string export)
    {
        Assert.Equal(new NbdAddress(host, port, socket, export), NbdAddress.Parse(uri));
    }

    [Theory]
    [InlineData("storage:10809", "scheme storage is not NBD's")]
    [InlineData("not a uri", "is not a URI")]
    [InlineData("nbds://h/e", "NBD over TLS is not supported")]
    [InlineData("nbd:///e", "names no host")]
    [InlineData("nbd://h/e?socket=/x", "nbd:// takes no query")]
    [InlineData("nbd+unix://h/e?socket=/x", "names no host")]
    [InlineData("nbd+unix:///e", "needs socket=/absolute/path")]
    [InlineData("nbd+unix:///e?socket=relative.sock", "needs socket=/absolute/path")]
    [InlineData("nbd+unix:///e?tls=on&socket=/x", "unknown query 'tls=on'")]
    public void Refuses_what_is_not_an_nbd_export_saying_why(string uri, string why)
    {
        FormatException e = Assert.Throws<FormatException>(() => NbdAddress.Parse(uri));
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void Prints_back_as_a_uri_that_parses_to_the_same_address()
    {
        foreach (string uri in new[] { "nbd://h:10900/a%20b", "nbd+unix:///a?socket=/run/x.sock" })
        {
            NbdAddress address = NbdAddress.Parse(uri);
            Assert.Equal(address, NbdAddress.Parse(address.ToString()));
        }
    }
}
