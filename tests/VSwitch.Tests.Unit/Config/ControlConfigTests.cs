// The `control` section: who may use the control socket and what ports it may add (docs/configuration.md).
using VSwitch.Common.Sockets;
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Ports;
using Xunit;
using static VSwitch.Tests.Unit.Config.ConfigFixture;

namespace VSwitch.Tests.Unit.Config;

public sealed class ControlConfigTests
{
    private const string Minimal = "dpdk: {eal_args: []}\n";

    [Fact]
    public void Defaults_when_the_section_is_left_out()
    {
        DaemonConfig config = ConfigLoader.Parse(Minimal, ConfigFormat.Yaml);
        Assert.Equal(ConnectionLimits.Default, config.ControlLimits);
        Assert.Equal(new RuntimePortPolicy("/var/lib/vswitchd/pcap", "/run/vswitchd/vhost"), config.RuntimePorts);
        Assert.Null(config.ControlLimits.AllowedGroup);
        Assert.Equal(64, config.ControlLimits.MaxConnections);
        Assert.Equal(TimeSpan.FromSeconds(300), config.ControlLimits.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), config.ControlLimits.FrameTimeout);
    }

    [Fact]
    public void Every_field_is_read()
    {
        DaemonConfig config = ConfigLoader.Parse(Minimal + """
            control:
              group: root
              max_connections: 3
              idle_timeout_s: 60
              frame_timeout_s: 2
              pcap_dir: /srv/pcap
              vhost_dir: /run/vhost
            """, ConfigFormat.Yaml);
        Assert.Equal(new ConnectionLimits(0, 3, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(2)), config.ControlLimits);
        Assert.Equal(new RuntimePortPolicy("/srv/pcap", "/run/vhost"), config.RuntimePorts);
        Assert.Equal(1234u, ConfigLoader.Parse(Minimal + "control: {group: \"1234\"}", ConfigFormat.Yaml).ControlLimits.AllowedGroup);
    }

    [Theory]
    [InlineData("group: no-such-group-here", "control.group: 'no-such-group-here' is neither a gid nor a group in /etc/group")]
    [InlineData("max_connections: 0", "control.max_connections: 0 is out of range (1..1024)")]
    [InlineData("idle_timeout_s: 0", "control.idle_timeout_s: 0 is out of range (1..86400)")]
    [InlineData("frame_timeout_s: 86401", "control.frame_timeout_s: 86401 is out of range (1..86400)")]
    [InlineData("pcap_dir: pcaps", "control.pcap_dir: 'pcaps' is not an absolute path")]
    [InlineData("vhost_dir: ''", "control.vhost_dir: is empty; leave the field out instead")]
    [InlineData("devargs: any", "control.devargs: unknown field (expected one of: group, max_connections, idle_timeout_s, frame_timeout_s, pcap_dir, vhost_dir)")]
    public void Bad_values_name_the_field(string field, string expected) =>
        Assert.Equal([expected], ErrorsOf(Minimal + "control: {" + field + "}"));
}
