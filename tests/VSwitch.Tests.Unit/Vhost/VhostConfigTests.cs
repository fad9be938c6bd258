using System.Text.Json.Nodes;
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Ports;
using VSwitch.Dataplane.Vhost;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;
using Xunit;
using static VSwitch.Tests.Unit.Config.ConfigFixture;

namespace VSwitch.Tests.Unit.Vhost;

/// <summary>ports[].vhost_user in the file and in add-port requests, and the rules a vhost-user port must keep.</summary>
public class VhostConfigTests
{
    private const string VhostPort = "  - name: vm-c\n    devargs: net_null2\n";

    private static string WithVhost(string fields) => Yaml.With(VhostPort, "  - name: vm-c\n" + fields);

    [Fact]
    public void A_vhost_user_port_loads_with_server_as_its_default_mode()
    {
        SwitchSpec spec = ConfigLoader.Parse(WithVhost("    vhost_user: {socket: /run/vsw/c.sock}\n"), ConfigFormat.Yaml).Spec;
        PortSpec port = spec.Ports.Single(p => p.Name == "vm-c");
        Assert.Equal(new VhostUserSpec("/run/vsw/c.sock", VhostUserMode.Server), port.VhostUser);
        Assert.Equal("", port.Devargs);
        Assert.Equal(0, MbufBudget.RingMbufs(port, workers: 2)); // the library copies: no mbuf stays in a ring
    }

    public static TheoryData<string, string> Broken => new()
    {
        { "    vhost_user: {socket: /run/vsw/c.sock, mode: listen}\n",
            "ports[2].vhost_user.mode: 'listen' is not a vhost-user mode (server: vswitchd listens; client: vswitchd connects to the VMM's socket)" },
        { "    vhost_user: {mode: client}\n", "ports[2].vhost_user.socket: is required" },
        { "    vhost_user: {socket: run/c.sock}\n", "ports[2].vhost_user.socket: 'run/c.sock' is not an absolute path" },
        { $"    vhost_user: {{socket: /run/{new string('s', 103)}}}\n",
            $"ports[2].vhost_user.socket: '/run/{new string('s', 103)}' is 108 bytes long; a unix socket path holds at most 107" },
        { "    devargs: net_null2\n    vhost_user: {socket: /run/vsw/c.sock}\n",
            "ports[2].devargs: a port has devargs (a DPDK device) or vhost_user (a VM's vhost-user socket), not both" },
        { "    role: uplink\n    vhost_user: {socket: /run/vsw/c.sock}\n",
            "ports[2].role: a vhost_user port is a VM's port (role vm); the uplink is a DPDK device" },
        { "    vhost_user: {socket: /run/vsw/c.sock, sockets: 2}\n",
            "ports[2].vhost_user.sockets: unknown field (expected one of: socket, mode)" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void A_bad_vhost_user_port_is_refused_naming_the_field(string fields, string error)
    {
        IReadOnlyList<string> errors = ErrorsOf(WithVhost(fields));
        Assert.Contains(error, errors);
    }

    [Fact]
    public void Two_ports_on_one_socket_are_refused()
    {
        var spec = SwitchSpec.Empty with
        {
            Ports =
            [
                new PortSpec("vh-a", "", PortRole.Vm, 1500, 1) { VhostUser = new("/run/vsw/a.sock", VhostUserMode.Server) },
                new PortSpec("vh-b", "", PortRole.Vm, 1500, 1) { VhostUser = new("/run/vsw/../vsw/a.sock", VhostUserMode.Client) },
            ],
        };
        Assert.Equal(["ports[1].vhost_user.socket: socket '/run/vsw/../vsw/a.sock' is already used by ports[0].vhost_user.socket"],
            SpecValidator.Validate(spec));
    }

    [Fact]
    public void Vhost_ports_do_not_count_against_the_32_ethdev_ports()
    {
        var ports = Enumerable.Range(0, SwitchTables.MaxEthPorts).Select(i => new PortSpec($"p{i}", $"net_null{i}", PortRole.Vm, 1500, 1))
            .Concat(Enumerable.Range(0, 256).Select(i => new PortSpec($"vh{i}", "", PortRole.Vm, 1500, 1) { VhostUser = new($"/run/vsw/{i}.sock", VhostUserMode.Server) }));
        Assert.Empty(SpecValidator.Validate(SwitchSpec.Empty with { Ports = [.. ports] }));
        var tooMany = Enumerable.Range(0, SwitchTables.MaxVhostPorts + 1)
            .Select(i => new PortSpec($"vh{i}", "", PortRole.Vm, 1500, 1) { VhostUser = new($"/run/vsw/{i}.sock", VhostUserMode.Server) });
        Assert.Equal(["ports: 1025 vhost_user ports configured; at most 1024"], SpecValidator.Validate(SwitchSpec.Empty with { Ports = [.. tooMany] }));
    }

    [Fact]
    public void An_add_port_request_takes_vhost_user_as_the_file_does()
    {
        PortSpec port = ControlRequests.Port(JsonNode.Parse("""{"op":"add-port","name":"vh-x","vhost_user":{"socket":"/run/vsw/x.sock","mode":"client"},"queues":2}""")!.AsObject());
        Assert.Equal(new VhostUserSpec("/run/vsw/x.sock", VhostUserMode.Client), port.VhostUser);
        Assert.Equal(2, port.Queues);
        var missing = Assert.Throws<ConfigException>(() => ControlRequests.Port(JsonNode.Parse("""{"op":"add-port","name":"vh-x"}""")!.AsObject()));
        Assert.Equal(["devargs: is required"], missing.Errors);
    }

    [Fact]
    public void Over_the_socket_a_vhost_user_socket_must_lie_in_the_vhost_directory()
    {
        string dir = Directory.CreateTempSubdirectory("vsw-vhostdir-").FullName;
        try
        {
            var policy = RuntimePortPolicy.Default with { VhostDir = dir };
            Assert.Equal(Path.Combine(dir, "x.sock"), policy.CheckVhostSocket(Path.Combine(dir, "x.sock")));
            var outside = Assert.Throws<PortPolicyException>(() => policy.CheckVhostSocket("/tmp/x.sock"));
            Assert.Equal($"vhost_user.socket: '/tmp/x.sock' is not in {dir} (control.vhost_dir)", outside.Message);
            var dotdot = Assert.Throws<PortPolicyException>(() => policy.CheckVhostSocket(Path.Combine(dir, "..", "x.sock")));
            Assert.Contains("has a '.' or '..' component", dotdot.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>Which guest receive vring a configured queue's frames go to, as the guest enables vrings.</summary>
public class VhostQueueMapTests
{
    [Fact]
    public void Each_configured_queue_goes_to_its_own_vring_when_the_guest_enabled_it()
    {
        // Queue pairs 0..3 enabled both ways: vrings 0..7.
        Assert.Equal([0, 2, 4, 6], VhostPort.MapGuestRxVrings(0xFF, 4));
    }

    [Fact]
    public void Queues_the_guest_did_not_enable_go_to_the_enabled_ones_in_turn()
    {
        // Linux starts a multiqueue virtio-net with one queue pair: everything goes to vring 0.
        Assert.Equal([0, 0, 0, 0], VhostPort.MapGuestRxVrings(0b11, 4));
        // Pairs 0 and 2 enabled: 1 and 3 are dealt over them.
        Assert.Equal([0, 0, 4, 4], VhostPort.MapGuestRxVrings(0b11_00_11, 4));
        Assert.Equal([-1, -1], VhostPort.MapGuestRxVrings(0b10, 2)); // a transmit vring alone takes no frames
    }

    [Fact]
    public void A_port_tracks_its_vrings_and_forgets_them_when_the_frontend_goes()
    {
        var port = new VhostPort("vh-a", 32, new VhostUserSpec("/run/a.sock", VhostUserMode.Server), queues: 2);
        port.SetVring(0, true);
        port.SetVring(1, true);
        port.Connected(vid: 3, features: 1UL << 15, vrings: 4);
        Assert.Equal(3, port.Vid);
        Assert.True(port.GuestTxEnabled(0));
        Assert.False(port.GuestTxEnabled(1));
        Assert.Equal(0, port.GuestRxVring(1));
        VhostPortState state = port.State();
        Assert.Equal((true, 2, 1L), (state.Connected, state.QueuePairs, state.Connections));
        Assert.Equal([0], state.GuestRxQueues);

        port.Disconnected();
        Assert.Equal(-1, port.Vid);
        Assert.False(port.GuestTxEnabled(0));
        Assert.Equal(-1, port.GuestRxVring(0));
        Assert.False(port.State().Connected);
    }
}
