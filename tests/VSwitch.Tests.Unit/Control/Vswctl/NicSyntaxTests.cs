// `vm create --nic`: key=value pairs into the API's Nic, errors that name the key, and the form
// `vm show` prints, which reads back into the same NIC.
using VSwitch.Common.Cli;
using VSwitch.Control.Api;
using VSwitch.Control.Vswctl;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Vswctl;

public sealed class NicSyntaxTests
{
    [Fact]
    public void Keys_make_a_nic_addresses_in_order_and_the_prefix_defaulted_by_the_API()
    {
        Nic two = NicSyntax.Parse("ip=10.0.0.5,mac=02:00:00:00:00:01,ip=10.0.0.6,prefix=16");
        Nic one = NicSyntax.Parse("mac=02:00:00:00:00:02,ip=10.0.0.7");

        Assert.Equal(("02:00:00:00:00:01", 16), (two.Mac, two.Prefix));
        Assert.Equal(["10.0.0.5", "10.0.0.6"], two.Ipv4);
        Assert.Equal(("02:00:00:00:00:02", new Nic("m", []).Prefix), (one.Mac, one.Prefix));
        Assert.Equal(["10.0.0.7"], one.Ipv4);
    }

    [Theory]
    [InlineData("mac=02:00:00:00:00:01,ipp=10.0.0.5", "--nic: unknown key 'ipp'; keys: mac, ip, prefix")]
    [InlineData("MAC=02:00:00:00:00:01,ip=10.0.0.5", "--nic: unknown key 'MAC'; keys: mac, ip, prefix")]
    [InlineData("02:00:00:00:00:01", "--nic: '02:00:00:00:00:01' is not key=value; keys: mac, ip, prefix")]
    [InlineData("mac=02:00:00:00:00:01,ip=10.0.0.5,", "--nic: '' is not key=value; keys: mac, ip, prefix")]
    [InlineData("ip=10.0.0.5", "--nic: mac is required (mac=02:00:00:00:00:01)")]
    [InlineData("mac=02:00:00:00:00:01", "--nic: ip is required (ip=10.0.0.5; repeat it for more addresses)")]
    [InlineData("mac=,ip=10.0.0.5", "--nic: mac needs a value")]
    [InlineData("mac=02:00:00:00:00:01,mac=02:00:00:00:00:02,ip=10.0.0.5", "--nic: mac is given twice")]
    [InlineData("mac=02:00:00:00:00:01,ip=10.0.0.5,prefix=24,prefix=16", "--nic: prefix is given twice")]
    [InlineData("mac=02:00:00:00:00:01,ip=10.0.0.5,prefix=/24", "--nic: prefix '/24' is not a number")]
    public void A_bad_nic_is_refused_naming_the_key(string text, string message)
    {
        var error = Assert.Throws<FormatException>(() => NicSyntax.Parse(text));

        Assert.Equal(message, error.Message);
    }

    [Fact]
    public async Task A_bad_nic_on_the_command_line_is_a_usage_error_of_vm_create()
    {
        var run = new VswctlRun();

        (int exit, _, string stderr) = await run.RunAsync("vm", "create", "web", "--tenant", "acme", "--vcpus", "1", "--memory-mib", "64", "--kernel", "/k",
            "--nic", "mac=02:00:00:00:00:01,ip=10.0.0.5", "--nic", "mac=02:00:00:00:00:02,ipp=10.0.0.6");

        Assert.Equal(ExitStatus.BadInput, exit);
        Assert.Equal("vswctl vm create: --nic: unknown key 'ipp'; keys: mac, ip, prefix\nsee 'vswctl vm create --help'\n", stderr);
        Assert.Empty(run.Sockets);
    }

    [Fact]
    public void What_show_prints_reads_back_as_the_same_nic()
    {
        var nic = new Nic("02:00:00:00:00:09", ["10.1.0.5", "10.1.0.6"], 20);

        string text = NicSyntax.Format(nic);
        Nic back = NicSyntax.Parse(text);

        Assert.Equal("mac=02:00:00:00:00:09,ip=10.1.0.5,ip=10.1.0.6,prefix=20", text);
        Assert.Equal((nic.Mac, nic.Prefix), (back.Mac, back.Prefix));
        Assert.Equal(nic.Ipv4, back.Ipv4);
    }
}
