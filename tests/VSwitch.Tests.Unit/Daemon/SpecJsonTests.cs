// The VM fields of add-vm and add-remote-vm as the control socket reads and lists them.
using System.Text.Json.Nodes;
using VSwitch.Dataplane.ControlSocket;
using VSwitch.Dataplane.Daemon;
using VSwitch.Dataplane.Switching;
using Xunit;

namespace VSwitch.Tests.Unit.Daemon;

public class SpecJsonTests
{
    private static JsonObject Vm(string extra = "") =>
        JsonNode.Parse($$"""{"tenant":"red","name":"red-a","port":"vm-a","mac":"02:00:00:00:00:01"{{extra}}}""")!.AsObject();

    [Fact]
    public void Add_vm_takes_the_first_hop_fields_with_their_defaults()
    {
        VmSpec plain = SpecJson.ReadVm(Vm());
        Assert.Equal((false, VmSpec.DefaultFloodRatePps, VmSpec.DefaultFloodBurst), (plain.AllowRouting, plain.FloodRatePps, plain.FloodBurst));
        VmSpec router = SpecJson.ReadVm(Vm(""","allow_routing":true,"flood_rate_pps":50,"flood_burst":5"""));
        Assert.Equal((true, 50, 5), (router.AllowRouting, router.FloodRatePps, router.FloodBurst));
        Assert.True(SpecJson.ReadRemoteVm(JsonNode.Parse("""{"tenant":"red","name":"red-c","host":"host-b","mac":"02:00:00:00:00:03","allow_routing":true}""")!.AsObject()).AllowRouting);
    }

    [Fact]
    public void A_non_boolean_allow_routing_is_refused_naming_the_field() =>
        Assert.Equal("allow_routing: '\"yes\"' is not true or false",
            Assert.Throws<ControlException>(() => SpecJson.ReadVm(Vm(""","allow_routing":"yes" """))).Message);

    [Fact]
    public void The_listed_spec_carries_the_fields_back()
    {
        VmSpec vm = SpecJson.ReadVm(Vm(""","allow_routing":true,"flood_rate_pps":50,"flood_burst":5"""));
        JsonObject listed = SpecJson.Write(SwitchSpec.Empty with { Vms = [vm] })["vms"]![0]!.AsObject();
        Assert.Equal(vm, SpecJson.ReadVm(listed));
    }
}
