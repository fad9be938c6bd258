using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Protocols;
using VSwitch.Tests.Unit.Config;
using VSwitch.Dataplane.Spec;
using Xunit;
using static VSwitch.Tests.Unit.Overlay.OverlayTopology;

namespace VSwitch.Tests.Unit.Overlay;

public class OverlayConfigTests
{
    [Fact]
    public void The_topology_loads_with_every_field_mapped()
    {
        SwitchSpec spec = Spec;
        OverlaySpec overlay = spec.Overlay!;
        Assert.Equal("up0", overlay.Uplink);
        Assert.Equal(Ipv4.ParseAddress(Vtep), overlay.Vtep);
        Assert.Equal(24, overlay.PrefixLength);
        Assert.Equal(0x02AA_0000_0001UL, overlay.Mac);
        Assert.Equal(Ipv4.ParseAddress(Gateway), overlay.Gateway);
        Assert.Equal(32, overlay.Ttl);
        Assert.Equal(300, overlay.NeighbourTimeoutSeconds);
        Assert.Equal([TunnelType.Vxlan, TunnelType.Geneve, TunnelType.Vxlan], overlay.RemoteHosts.Select(h => h.Tunnel));
        GeneveOption option = Assert.Single(overlay.RemoteHosts[1].GeneveOptions);
        Assert.Equal((ushort)0x0102, option.Class);
        Assert.Equal((byte)0x80, option.Type);
        Assert.Equal(Convert.FromHexString("0011223344556677"), option.Data);
        Assert.Equal([5001u, 5002u], spec.Tenants.Select(t => t.Vni!.Value));
        Assert.Equal(["red-c", "red-d", "red-e", "blue-c"], spec.RemoteVms.Select(v => v.Name));
        Assert.Equal("blue", spec.RemoteVms[3].Tenant);
    }

    [Fact]
    public void The_documented_example_is_valid() =>
        Assert.NotNull(ConfigLoader.Load(Repository.PathOf("docs", "examples", "overlay.yaml")));

    public static TheoryData<string, string, string> Broken => new()
    {
        { "    vni: 5002\n", "    vni: 5001\n", "tenants[1].vni: VNI 5001 is already used by tenants[0].vni" },
        { "    vni: 5002\n", "    vni: 16777216\n", "tenants[1].vni: 16777216 is out of range (1..16777215)" },
        { "    vni: 5002\n", "    vni: 0\n", "tenants[1].vni: 0 is out of range (1..16777215)" },
        { "    vni: 5002\n", "", "tenants[1].vni: is required when an overlay is configured (1..16777215, unique per host)" },
        { "host: host-d,", "host: host-z,", "tenants[0].remote_vms[2].host: 'host-z' is not one of overlay.remote_hosts" },
        { "mac: \"02:00:00:00:00:05\"", "mac: \"02:00:00:00:00:02\"", "tenants[0].remote_vms[2].mac: '02:00:00:00:00:02' is already used by tenants[0].vms[1].mac" },
        { "mac: \"02:00:00:00:00:05\"", "mac: \"03:00:00:00:00:05\"", "tenants[0].remote_vms[2].mac: '03:00:00:00:00:05' is a group (multicast or broadcast) address; the I/G bit, 0x01 of the first octet, must be clear" },
        { "ipv4: [\"10.0.0.5\"]", "ipv4: [\"10.0.0.2\"]", "tenants[0].remote_vms[2].ipv4[0]: '10.0.0.2' is already used by tenants[0].vms[1].ipv4[0]" },
        { "name: red-e,", "name: red-a,", "tenants[0].remote_vms[2].name: 'red-a' is already the name of a local VM" },
        { "vtep: 192.168.50.1/24", "vtep: 192.168.50.1", "overlay.vtep: '192.168.50.1' is not an IPv4 address with a prefix length (such as 192.168.50.1/24, prefix 1..32)" },
        { "vtep: 192.168.50.1/24", "vtep: 192.168.50.300/24", "overlay.vtep: '192.168.50.300/24' is not an IPv4 address with a prefix length (such as 192.168.50.1/24, prefix 1..32)" },
        { "vtep: 192.168.50.1/24", "vtep: 192.168.50.255/24", "overlay.vtep: '192.168.50.255/24' is the network or broadcast address of its prefix" },
        { "uplink: up0", "uplink: vm-a", "overlay.uplink: 'vm-a' has role vm; the overlay needs the port with role uplink" },
        { "uplink: up0", "uplink: up9", "overlay.uplink: 'up9' is not a configured port" },
        { "tunnel: geneve", "tunnel: gre", "overlay.remote_hosts[1].tunnel: 'gre' is not a tunnel type (vxlan or geneve)" },
        { "data: \"0011223344556677\"", "data: \"00112233445566\"", "overlay.remote_hosts[1].geneve_options[0].data: 7 bytes; option data is a multiple of 4 bytes, at most 124 (RFC 8926 section 3.5)" },
        { "data: \"0011223344556677\"", $"data: \"{new string('0', 256)}\"", "overlay.remote_hosts[1].geneve_options[0].data: 128 bytes; option data is a multiple of 4 bytes, at most 124 (RFC 8926 section 3.5)" },
        { "data: \"0011223344556677\"", "data: \"zz\"", "overlay.remote_hosts[1].geneve_options[0].data: 'zz' is not hex (two digits per byte, such as 0011223344556677)" },
        { "class: 0x0102", "class: 0x10000", "overlay.remote_hosts[1].geneve_options[0].class: 65536 is out of range (0..65535)" },
        { "{ name: host-b, vtep: 192.168.50.2, tunnel: vxlan }", "{ name: host-b, vtep: 192.168.50.3, tunnel: vxlan }", "overlay.remote_hosts[1].vtep: '192.168.50.3' is already used by overlay.remote_hosts[0].vtep" },
        { "{ name: host-b, vtep: 192.168.50.2, tunnel: vxlan }", "{ name: host-b, vtep: 192.168.50.1, tunnel: vxlan }", "overlay.remote_hosts[0].vtep: '192.168.50.1' is this host's own VTEP address" },
        { "{ name: host-b, vtep: 192.168.50.2, tunnel: vxlan }", "{ name: host-b, vtep: 192.168.50.2, tunnel: vxlan, geneve_options: [{ class: 1, type: 1, data: \"\" }] }", "overlay.remote_hosts[0].geneve_options: given for a vxlan host; options exist only in GENEVE" },
        { "  gateway: 192.168.50.254\n", "", "overlay.remote_hosts[2].vtep: '192.168.60.4' is outside 192.168.50.0/24 and overlay.gateway is not set" },
        { "gateway: 192.168.50.254", "gateway: 192.168.51.254", "overlay.gateway: '192.168.51.254' is outside the VTEP's prefix 192.168.50.0/24" },
        { "ttl: 32", "ttl: 0", "overlay.ttl: 0 is out of range (1..255)" },
        { "ttl: 32", "ttl: 256", "overlay.ttl: 256 is out of range (1..255)" },
        { "ttl: 32", "neighbour_timeout_s: 5", "overlay.neighbour_timeout_s: 5 is out of range (10..86400)" },
        { "{ ip: 192.168.50.3, mac: \"02:bb:00:00:00:03\" }", "{ ip: 192.168.50.2, mac: \"02:bb:00:00:00:03\" }", "overlay.static_neighbours[1].ip: '192.168.50.2' is already used by overlay.static_neighbours[0].ip" },
        { "{ ip: 192.168.50.3, mac: \"02:bb:00:00:00:03\" }", "{ ip: 192.168.50.3, mac: \"ff:ff:ff:ff:ff:ff\" }", "overlay.static_neighbours[1].mac: 'ff:ff:ff:ff:ff:ff' is a group (multicast or broadcast) address; the I/G bit, 0x01 of the first octet, must be clear" },
        { "mac: \"02:aa:00:00:00:01\"", "mac: \"02:aa:00:00:00\"", "overlay.mac: '02:aa:00:00:00' is not a MAC address (six hex octets such as 02:00:00:00:00:01)" },
        { "  uplink: up0\n", "  uplink: up0\n  vxlan_port: 4789\n", "overlay.vxlan_port: unknown field (expected one of: uplink, vtep, mac, gateway, ttl, neighbour_timeout_s, static_neighbours, remote_hosts)" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Overlay_rules_name_the_field(string find, string replacement, string expected) =>
        Assert.Equal([expected], ConfigFixture.ErrorsOf(Yaml.With(find, replacement)));

    [Fact]
    public void Remote_host_names_are_unique() =>
        Assert.Equal(
            ["overlay.remote_hosts[2].name: 'host-c' is already used by overlay.remote_hosts[1].name",
             "tenants[0].remote_vms[2].host: 'host-d' is not one of overlay.remote_hosts"],
            ConfigFixture.ErrorsOf(Yaml.With("{ name: host-d, vtep: 192.168.60.4, tunnel: vxlan }", "{ name: host-c, vtep: 192.168.60.4, tunnel: vxlan }")));

    [Fact]
    public void Vni_and_remote_vms_need_an_overlay()
    {
        string withoutOverlay = Yaml[..Yaml.IndexOf("overlay:", StringComparison.Ordinal)] + Yaml[Yaml.IndexOf("tenants:", StringComparison.Ordinal)..];
        IReadOnlyList<string> errors = ConfigFixture.ErrorsOf(withoutOverlay);
        Assert.Contains("tenants[0].vni: given without an overlay section; a VNI only means something on a tunnel", errors);
        Assert.Contains("tenants[0].remote_vms[0]: remote VMs need an overlay section (the VTEP and remote_hosts)", errors);
    }

    [Fact]
    public void A_remote_VM_added_at_run_time_is_checked_like_one_from_the_file()
    {
        SwitchSpec spec = Spec;
        SwitchSpec next = spec with { RemoteVms = spec.RemoteVms.Add(new RemoteVmSpec("red-f", "red", "host-q", 0x0200_0000_0001, [])) };
        Assert.Equal(
            ["tenants[0].remote_vms[3].host: 'host-q' is not one of overlay.remote_hosts",
             "tenants[0].remote_vms[3].mac: '02:00:00:00:00:01' is already used by tenants[0].vms[0].mac"],
            SpecValidator.Validate(next));
    }
}
