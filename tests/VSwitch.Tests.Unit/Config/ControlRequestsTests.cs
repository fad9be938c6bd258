// The control socket's add and remove requests, read by the config file's readers, and the
// spec as "list" gives it back.
using System.Text.Json.Nodes;
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Daemon;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;
using Xunit;

namespace VSwitch.Tests.Unit.Config;

public class ControlRequestsTests
{
    private static JsonObject Vm(string extra = "") =>
        JsonNode.Parse($$"""{"tenant":"red","name":"red-a","port":"vm-a","mac":"02:00:00:00:00:01"{{extra}}}""")!.AsObject();

    [Fact]
    public void Add_vm_takes_the_first_hop_fields_with_their_defaults()
    {
        VmSpec plain = ControlRequests.Vm(Vm()).Vm;
        Assert.Equal((false, VmSpec.DefaultFloodRatePps, VmSpec.DefaultFloodBurst), (plain.AllowRouting, plain.FloodRatePps, plain.FloodBurst));
        VmSpec router = ControlRequests.Vm(Vm(""","allow_routing":true,"flood_rate_pps":50,"flood_burst":5""")).Vm;
        Assert.Equal((true, 50, 5), (router.AllowRouting, router.FloodRatePps, router.FloodBurst));
        Assert.True(ControlRequests.RemoteVm(JsonNode.Parse("""{"tenant":"red","name":"red-c","host":"host-b","mac":"02:00:00:00:00:03","allow_routing":true}""")!.AsObject()).AllowRouting);
    }

    [Fact]
    public void A_non_boolean_allow_routing_is_refused_naming_the_field() =>
        Assert.Equal("allow_routing: expected true or false, got 'yes'",
            Assert.Throws<ConfigException>(() => ControlRequests.Vm(Vm(""","allow_routing":"yes" """))).Message);

    [Fact]
    public void The_listed_spec_carries_the_fields_back()
    {
        VmSpec vm = ControlRequests.Vm(Vm(""","ipv4":["10.0.0.1"],"ipv6":["fd00::1"],"allow_routing":true,"flood_rate_pps":50,"flood_burst":5""")).Vm;
        JsonObject listed = SpecJson.Write(SwitchSpec.Empty with { Vms = [vm] })["vms"]![0]!.AsObject();
        VmSpec readBack = ControlRequests.Vm(listed).Vm;
        // A record compares its ImmutableArrays by reference: the addresses are compared apart.
        Assert.Equal(vm with { Ipv4 = [], Ipv6 = [] }, readBack with { Ipv4 = [], Ipv6 = [] });
        Assert.Equal(vm.Ipv4, readBack.Ipv4);
        Assert.Equal(vm.Ipv6, readBack.Ipv6);
    }

    [Theory]
    [InlineData("""{"op":"add-port","devargs":"net_null0"}""", "name: is required")]
    [InlineData("""{"op":"add-port","name":"p","devargs":"net_null0","mtu":"big"}""", "mtu: expected an integer, got 'big'")]
    [InlineData("""{"op":"add-port","name":"p","devargs":"net_null0","role":"trunk"}""", "role: 'trunk' is not a port role (vm or uplink)")]
    [InlineData("""{"op":"add-port","name":"p","devargs":"net_null0","colour":"red"}""", "colour: unknown field (expected one of: op, id, name, devargs, role, mtu, queues, vhost_user)")]
    [InlineData("""{"op":"add-port","name":7,"devargs":"net_null0","id":3}""", "name: expected a string, got 7")]
    public void A_bad_add_port_is_refused_naming_the_field_as_the_config_file_would(string request, string expected) =>
        Assert.Equal(expected, Assert.Throws<ConfigException>(() => ControlRequests.Port(JsonNode.Parse(request)!.AsObject())).Message);

    [Theory]
    [InlineData("mac", "\"02:00:00:00:00:0g\"", "mac: '02:00:00:00:00:0g' is not a MAC address (six hex octets such as 02:00:00:00:00:01)")]
    [InlineData("ipv4", """["10.0.0.1","10.0.0"]""", "ipv4[1]: '10.0.0' is not an IPv4 address (four decimal octets such as 10.0.0.1)")]
    [InlineData("vni", "-1", "vni: -1 is out of range (1..16777215)")]
    [InlineData("tenant", "null", "tenant: is required")]
    public void A_bad_add_vm_is_refused_naming_the_field(string field, string json, string expected)
    {
        JsonObject request = Vm();
        request[field] = JsonNode.Parse(json);
        Assert.Equal(expected, Assert.Throws<ConfigException>(() => ControlRequests.Vm(request)).Message);
    }

    [Fact]
    public void Add_vm_carries_its_tenants_vni_and_a_remove_takes_only_a_name()
    {
        Assert.Equal(42u, ControlRequests.Vm(Vm(""","vni":42""")).Vni);
        Assert.Null(ControlRequests.Vm(Vm()).Vni);
        Assert.Equal("red-a", ControlRequests.Name(JsonNode.Parse("""{"op":"remove-vm","name":"red-a"}""")!.AsObject()));
        Assert.Equal("port: unknown field (expected one of: op, id, name)",
            Assert.Throws<ConfigException>(() => ControlRequests.Name(JsonNode.Parse("""{"op":"remove-vm","name":"a","port":"p"}""")!.AsObject())).Message);
        Assert.Equal("name: is required", Assert.Throws<ConfigException>(() => ControlRequests.Name(new JsonObject { ["op"] = "remove-vm" })).Message);
    }
}
