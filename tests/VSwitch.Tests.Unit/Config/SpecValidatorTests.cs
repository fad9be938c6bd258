using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;
using Xunit;

namespace VSwitch.Tests.Unit.Config;

/// <summary>
/// The validator as the control socket uses it: on a whole SwitchSpec built in code, after adding
/// a port or a VM, with no file involved.
/// </summary>
public class SpecValidatorTests
{
    private static readonly SwitchSpec s_spec = ConfigLoader.Parse(ConfigFixture.Yaml, ConfigFormat.Yaml).Spec;

    private static SwitchSpec WithVm(string name, string tenant, string port, ulong mac, params string[] ipv4) =>
        s_spec with { Vms = s_spec.Vms.Add(new VmSpec(name, tenant, port, mac, [.. ipv4.Select(Ipv4.ParseAddress)], [])) };

    private static SwitchSpec WithPort(PortSpec port) => s_spec with { Ports = s_spec.Ports.Add(port) };

    [Fact]
    public void Valid_specs_have_no_errors()
    {
        Assert.Empty(SpecValidator.Validate(s_spec));
        Assert.Empty(SpecValidator.Validate(SwitchSpec.Empty));
    }

    [Fact]
    public void A_VM_added_at_run_time_is_named_by_its_place_in_its_tenant()
    {
        // s_spec's VMs are red-a, red-b, blue-a: a new red VM is red's third.
        SwitchSpec spec = WithPort(new PortSpec("vm-d", "net_null4", PortRole.Vm, 1500, 1))
            with { Vms = s_spec.Vms.Add(new VmSpec("red-c", "red", "vm-d", 0x0200_0000_000A, [], [])) };
        Assert.Equal(["tenants[0].vms[2].mac: '02:00:00:00:00:0a' is already used by tenants[0].vms[0].mac"], SpecValidator.Validate(spec));
    }

    [Fact]
    public void A_VM_of_an_unknown_tenant_is_named_by_its_place_in_the_spec() =>
        Assert.Equal(["vms[3].tenant: 'green' is not a configured tenant"],
            SpecValidator.Validate(WithPort(new PortSpec("vm-d", "net_null4", PortRole.Vm, 1500, 1)) with
            {
                Vms = s_spec.Vms.Add(new VmSpec("green-a", "green", "vm-d", 0x0200_0000_0001, [], [])),
            }));

    [Fact]
    public void A_VMs_flood_limit_is_defaulted_and_checked_at_run_time_too()
    {
        VmSpec vm = s_spec.Vms[0];
        Assert.Equal((1000, 200, false), (vm.FloodRatePps, vm.FloodBurst, vm.AllowRouting));
        Assert.Equal(["tenants[0].vms[0].flood_rate_pps: 0 is out of range (1..10000000)", "tenants[0].vms[0].flood_burst: -1 is out of range (1..1000000)"],
            SpecValidator.Validate(s_spec with { Vms = s_spec.Vms.SetItem(0, vm with { FloodRatePps = 0, FloodBurst = -1 }) }));
    }

    [Fact]
    public void Per_VM_first_hop_fields_are_read_from_the_file()
    {
        string yaml = ConfigFixture.Yaml.Replace("        port: vm-c\n", "        port: vm-c\n        allow_routing: true\n        flood_rate_pps: 50\n        flood_burst: 5\n");
        VmSpec blue = ConfigLoader.Parse(yaml, ConfigFormat.Yaml).Spec.Vms[2];
        Assert.Equal((50, 5, true), (blue.FloodRatePps, blue.FloodBurst, blue.AllowRouting));
    }

    [Fact]
    public void Binding_a_taken_port_at_run_time_is_refused() =>
        Assert.Equal(["tenants[1].vms[1].port: port 'vm-a' is already used by tenants[0].vms[0].port"],
            SpecValidator.Validate(WithVm("blue-b", "blue", "vm-a", 0x0200_0000_00BB)));

    [Fact]
    public void A_port_added_at_run_time_is_checked_against_the_others()
    {
        Assert.Equal(["ports[4].devargs: device 'net_null3' is already used by ports[3].devargs"],
            SpecValidator.Validate(WithPort(new PortSpec("vm-d", "net_null3,size=64", PortRole.Vm, 1500, 1))));
        Assert.Equal(["ports[4].role: 'uplink' given twice; ports[3] is already the uplink"],
            SpecValidator.Validate(WithPort(new PortSpec("up1", "net_null4", PortRole.Uplink, 1500, 1))));
    }

    [Fact]
    public void Values_no_file_can_hold_are_still_caught()
    {
        Assert.Equal(["ports[4].role: 7 is not a port role (vm or uplink)"],
            SpecValidator.Validate(WithPort(new PortSpec("vm-d", "net_null4", (PortRole)7, 1500, 1))));
        Assert.Equal(["ports[4].name: is required"],
            SpecValidator.Validate(WithPort(new PortSpec("", "net_null4", PortRole.Vm, 1500, 1))));
    }

    [Fact]
    public void Ports_beyond_rte_max_ethports_are_refused()
    {
        var ports = Enumerable.Range(0, SwitchTables.MaxEthPorts + 1).Select(i => new PortSpec($"p{i}", $"net_null{i}", PortRole.Vm, 1500, 1));
        Assert.Equal(["ports: 33 DPDK device ports configured; at most 32 (RTE_MAX_ETHPORTS; VM ports over vhost_user do not count)"],
            SpecValidator.Validate(SwitchSpec.Empty with { Ports = [.. ports] }));
    }
}
