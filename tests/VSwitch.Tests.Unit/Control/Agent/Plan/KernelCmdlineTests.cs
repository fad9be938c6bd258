// The guest's kernel command line (KernelCmdline): the console the agent reads and the first
// NIC's address as the kernel's ip= parameter (Documentation/admin-guide/nfs/nfsroot.rst).
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Api;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Plan;

public sealed class KernelCmdlineTests
{
    private static string For(string? cmdline, params Nic[] nics) =>
        KernelCmdline.For(new Vm("web", "red", 1, 128, "/images/bzImage", Cmdline: cmdline, Nics: nics));

    private static readonly Nic Addressed = new("02:00:00:00:00:01", ["10.0.0.5", "10.0.0.6"]);
    private static readonly Nic Unaddressed = new("02:00:00:00:00:02", []);

    [Fact]
    public void A_vm_without_a_command_line_gets_the_console_and_its_address() =>
        Assert.Equal("reboot=k panic=-1 pci=off console=ttyS0 ip=10.0.0.5:::255.255.255.0:web:eth0:off", For(null, Addressed));

    [Theory]
    [InlineData(1, "128.0.0.0")]
    [InlineData(16, "255.255.0.0")]
    [InlineData(20, "255.255.240.0")]
    [InlineData(31, "255.255.255.254")]
    [InlineData(32, "255.255.255.255")]
    public void The_netmask_is_the_nics_prefix(int prefix, string netmask) =>
        Assert.Equal($"reboot=k panic=-1 pci=off console=ttyS0 ip=10.0.0.5:::{netmask}:web:eth0:off", For(null, Addressed with { Prefix = prefix }));

    [Fact]
    public void The_vms_own_words_come_first_as_written() =>
        Assert.Equal("quiet init=\"/bin/sh -c x\" console=ttyS0 ip=10.0.0.5:::255.255.255.0:web:eth0:off",
            For("  quiet   init=\"/bin/sh -c x\" ", Addressed));

    [Theory]
    [InlineData("console=ttyS0")]
    [InlineData("console=ttyS0,115200n8")]
    public void A_given_serial_console_is_not_added_again(string console) =>
        Assert.Equal($"{console} quiet", For($"{console} quiet"));

    [Fact]
    public void Another_console_is_kept_and_the_serial_console_comes_after_it() =>
        Assert.Equal("console=tty0 console=ttyS0", For("console=tty0"));

    [Theory]
    [InlineData("ip=dhcp quiet")]
    [InlineData("ip=10.0.0.99::10.0.0.1:255.255.255.0::eth0:off quiet")]
    [InlineData("nfsaddrs=10.0.0.99 quiet ip=off")]
    public void The_agents_address_wins_over_an_ip_parameter_in_the_vms_command_line(string cmdline) =>
        Assert.Equal("quiet console=ttyS0 ip=10.0.0.5:::255.255.255.0:web:eth0:off", For(cmdline, Addressed));

    [Fact]
    public void Without_an_address_on_the_first_nic_the_vms_own_ip_parameter_stays()
    {
        Assert.Equal("ip=dhcp console=ttyS0", For("ip=dhcp"));
        Assert.Equal("ip=dhcp console=ttyS0", For("ip=dhcp", Unaddressed, Addressed));
    }

    [Fact]
    public void Parameters_after_the_end_marker_are_inits_and_the_agents_go_before_it() =>
        Assert.Equal("quiet console=ttyS0 ip=10.0.0.5:::255.255.255.0:web:eth0:off -- ip=keep console=keep",
            For("quiet -- ip=keep console=keep", Addressed));
}
