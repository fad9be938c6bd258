// The allow-list for ports added over the control socket: each row is a devargs string a member
// of the socket's group could send to make root open, create or truncate a file, or take over a
// host interface, and the error that names the key.
using System.Collections.Immutable;
using VSwitch.Dataplane.Ports;
using VSwitch.Dataplane.Spec;
using Xunit;

namespace VSwitch.Tests.Unit.Ports;

public sealed class RuntimePortPolicyTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("vsw-policy-");
    private readonly string _pcapDir, _vhostDir;
    private readonly RuntimePortPolicy _policy;
    private readonly SwitchSpec _spec;

    public RuntimePortPolicyTests()
    {
        _pcapDir = Directory.CreateDirectory(Path.Combine(_root.FullName, "pcap")).FullName;
        _vhostDir = Directory.CreateDirectory(Path.Combine(_root.FullName, "vhost")).FullName;
        Directory.CreateDirectory(Path.Combine(_root.FullName, "outside"));
        _policy = new RuntimePortPolicy(_pcapDir, _vhostDir);
        _spec = new SwitchSpec([], [
            new PortSpec("uplink0", "net_af_packet0,iface=eth1", PortRole.Uplink, 1500, 1),
            new PortSpec("vm-a", "net_af_packet1,iface=tapa", PortRole.Vm, 1500, 1),
        ], ImmutableArray<VmSpec>.Empty);
    }

    public void Dispose() => _root.Delete(recursive: true);

    private string Check(string devargs) => _policy.Check(new PortSpec("p", devargs, PortRole.Vm, 1500, 1), _spec);

    private string Refusal(string devargs) => Assert.Throws<PortPolicyException>(() => Check(devargs)).Message;

    [Theory]
    [InlineData("net_null0")]
    [InlineData("net_null2,no-rx=1")]
    [InlineData("net_null12,size=64,copy=1")]
    [InlineData("net_af_packet3,iface=tapb,qpairs=2")]
    public void What_vm_ports_need_passes_unchanged(string devargs) => Assert.Equal(devargs, Check(devargs));

    [Fact]
    public void Pcap_files_in_the_directory_pass_resolved()
    {
        Directory.CreateDirectory(Path.Combine(_pcapDir, "vm1"));
        // A symlink inside the directory that stays inside is followed, and the devargs name its target.
        Directory.CreateSymbolicLink(Path.Combine(_pcapDir, "alias"), Path.Combine(_pcapDir, "vm1"));
        string devargs = $"net_pcap9,rx_pcap={_pcapDir}/in.pcap,tx_pcap={_pcapDir}/alias/out.pcap,infinite_rx=1";
        Assert.Equal($"net_pcap9,rx_pcap={_pcapDir}/in.pcap,tx_pcap={_pcapDir}/vm1/out.pcap,infinite_rx=1", Check(devargs));
    }

    [Fact]
    public void Vhost_sockets_in_the_directory_pass() =>
        Assert.Equal($"net_vhost1,iface={_vhostDir}/b.sock,queues=2", Check($"net_vhost1,iface={_vhostDir}/b.sock,queues=2"));

    [Theory]
    [InlineData("net_tap0,iface=eth0", "devargs: 'net_tap0' is not allowed over the control socket (expected one of net_af_packetN, net_nullN, net_pcapN, net_vhostN; other devices go in the config file)")]
    [InlineData("eth_pcap0,tx_pcap=/etc/passwd", "devargs: 'eth_pcap0' is not allowed over the control socket")]
    [InlineData("net_pcap,tx_pcap=/x", "devargs: 'net_pcap' is not allowed over the control socket")]
    [InlineData("0000:00:03.0", "devargs: '0000:00:03.0' is not allowed over the control socket")]
    [InlineData("net_null0,foo=1", "devargs: net_null key 'foo' is not allowed over the control socket (allowed: copy, no-rx, size)")]
    [InlineData("net_null0,no-rx", "devargs: 'no-rx' is not key=value")]
    [InlineData("net_null0,size=64,size=128", "devargs: size is given twice")]
    [InlineData("net_null0,size=big", "devargs: size: 'big' is not a number (1 to 7 decimal digits)")]
    [InlineData("net_null0,copy=2", "devargs: copy: '2' is not 0 or 1")]
    [InlineData("net_pcap0,iface=eth0", "devargs: net_pcap key 'iface' is not allowed over the control socket (allowed: infinite_rx, rx_pcap, tx_pcap)")]
    [InlineData("net_pcap0,rx_iface=eth0", "devargs: net_pcap key 'rx_iface' is not allowed")]
    [InlineData("net_pcap0,rx_iface_in=eth0", "devargs: net_pcap key 'rx_iface_in' is not allowed")]
    [InlineData("net_pcap0,tx_iface=eth0", "devargs: net_pcap key 'tx_iface' is not allowed")]
    [InlineData("net_af_packet0", "devargs: net_af_packet needs iface=")]
    [InlineData("net_af_packet0,iface=eth1", "devargs: iface: 'eth1' is the interface of the uplink, port 'uplink0'")]
    [InlineData("net_af_packet0,iface=tapa", "devargs: iface: 'tapa' is already the interface of port 'vm-a'")]
    [InlineData("net_af_packet0,iface=../../x", "devargs: iface: '../../x' is not an interface name (1 to 15 of a-z A-Z 0-9 _ . -)")]
    [InlineData("net_af_packet0,iface=..", "devargs: iface: '..' is not an interface name")]
    [InlineData("net_af_packet0,iface=abcdefghijklmnop", "devargs: iface: 'abcdefghijklmnop' is not an interface name")]
    [InlineData("net_vhost0", "devargs: net_vhost needs iface=")]
    [InlineData("net_vhost0,iface=/etc/vsw.sock", "devargs: iface: '/etc/vsw.sock' is not in")]
    [InlineData("net_pcap0,tx_pcap=/etc/cron.d/x", "devargs: tx_pcap: '/etc/cron.d/x' is not in")]
    [InlineData("net_pcap0,rx_pcap=in.pcap", "devargs: rx_pcap: 'in.pcap' is not an absolute path")]
    public void Everything_else_is_refused_naming_the_key(string devargs, string expected) =>
        Assert.StartsWith(expected, Refusal(devargs));

    [Fact]
    public void A_dot_dot_component_is_refused() =>
        Assert.Equal($"devargs: tx_pcap: '{_pcapDir}/../outside/x.pcap' has a '.' or '..' component",
            Refusal($"net_pcap0,tx_pcap={_pcapDir}/../outside/x.pcap"));

    [Fact]
    public void A_directory_symlink_out_of_the_directory_is_refused()
    {
        Directory.CreateSymbolicLink(Path.Combine(_pcapDir, "escape"), "/etc");
        Assert.Equal($"devargs: tx_pcap: '{_pcapDir}/escape/passwd' is not in {_pcapDir} (control.pcap_dir)",
            Refusal($"net_pcap0,tx_pcap={_pcapDir}/escape/passwd"));
    }

    [Fact]
    public void A_relative_symlink_out_of_the_directory_is_refused()
    {
        Directory.CreateSymbolicLink(Path.Combine(_vhostDir, "up"), "../outside");
        Assert.StartsWith($"devargs: iface: '{_vhostDir}/up/b.sock' is not in {_vhostDir} (control.vhost_dir)",
            Refusal($"net_vhost0,iface={_vhostDir}/up/b.sock"));
    }

    [Fact]
    public void A_file_that_is_a_symlink_is_refused()
    {
        // tx_pcap truncates what it opens, following a final symlink: here the file outside.
        string outside = Path.Combine(_root.FullName, "outside", "precious");
        File.WriteAllText(outside, "keep");
        File.CreateSymbolicLink(Path.Combine(_pcapDir, "out.pcap"), outside);
        Assert.Equal($"devargs: tx_pcap: '{_pcapDir}/out.pcap' is a symbolic link", Refusal($"net_pcap0,tx_pcap={_pcapDir}/out.pcap"));
    }

    [Fact]
    public void A_missing_directory_is_refused() =>
        Assert.StartsWith($"devargs: rx_pcap: '{_pcapDir}/none/in.pcap' is not in", Refusal($"net_pcap0,rx_pcap={_pcapDir}/none/in.pcap"));

    [Fact]
    public void A_sibling_whose_name_extends_the_directory_is_refused()
    {
        Directory.CreateDirectory(_pcapDir + "2");
        Assert.StartsWith($"devargs: tx_pcap: '{_pcapDir}2/x' is not in {_pcapDir}", Refusal($"net_pcap0,tx_pcap={_pcapDir}2/x"));
    }
}
