// vswitchd's configuration compiled from a desired state (docs/agent.md, "Launch plan"), checked
// as vswitchd itself reads it: ConfigLoader, which applies every rule of docs/configuration.md.
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Spec;
using Xunit;
using static VSwitch.Tests.Unit.Control.Agent.Plan.PlanFixture;
using SwitchVm = VSwitch.Dataplane.Spec.VmSpec;

namespace VSwitch.Tests.Unit.Control.Agent.Plan;

public sealed class VswitchdPlanTests
{
    [Fact]
    public void Every_tenant_is_configured_with_its_vni_in_name_order()
    {
        DaemonConfig config = LoadVswitchd(State, Uplinked);
        Assert.Equal([new TenantSpec("blue", 200), new TenantSpec("green", 300), new TenantSpec("red", 100)], config.Spec.Tenants);
    }

    [Fact]
    public void Each_nic_is_a_vhost_user_port_vswitchd_connects_to_under_the_runtime_directory()
    {
        DaemonConfig config = LoadVswitchd(State, Uplinked);
        PortSpec[] vmPorts = [.. config.Spec.Ports.Where(p => p.Role == PortRole.Vm)];
        Assert.Equal(["blue-web.nic0", "red-web.nic0", "red-web.nic1"], vmPorts.Select(p => p.Name));
        Assert.Equal(
            [$"{Runtime}/vhost/blue-web.nic0.sock", $"{Runtime}/vhost/red-web.nic0.sock", $"{Runtime}/vhost/red-web.nic1.sock"],
            vmPorts.Select(p => p.VhostUser!.Socket));
        Assert.All(vmPorts, p => Assert.Equal(VhostUserMode.Client, p.VhostUser!.Mode));
        Assert.All(vmPorts, p => Assert.Equal(1450, p.Mtu));
        Assert.Equal($"{Runtime}/vhost", config.RuntimePorts.VhostDir);
    }

    [Fact]
    public void Each_nic_is_bound_as_a_vm_of_its_tenant_with_its_mac_and_addresses()
    {
        SwitchVm[] vms = [.. LoadVswitchd(State, Uplinked).Spec.Vms];
        Assert.Equal(
            [("blue-web.nic0", "blue", "blue-web.nic0"), ("red-web.nic0", "red", "red-web.nic0"), ("red-web.nic1", "red", "red-web.nic1")],
            vms.Select(vm => (vm.Name, vm.Tenant, vm.Port)));
        SwitchVm second = vms.Single(vm => vm.Name == "red-web.nic1");
        Assert.Equal(0x02_00_00_00_00_02UL, second.Mac);
        Assert.Equal(["10.0.1.5"], second.Ipv4.Select(Ipv4.Format));
        Assert.Equal(["10.0.0.5", "10.0.0.6"], vms.Single(vm => vm.Name == "red-web.nic0").Ipv4.Select(Ipv4.Format));
    }

    [Fact]
    public void Two_tenants_with_the_same_mac_and_address_load_as_two_tenants()
    {
        SwitchVm[] vms = [.. LoadVswitchd(State, Uplinked).Spec.Vms];
        SwitchVm red = vms.Single(vm => vm.Name == "red-web.nic0"), blue = vms.Single(vm => vm.Name == "blue-web.nic0");
        Assert.Equal((red.Mac, red.Ipv4[0]), (blue.Mac, blue.Ipv4[0]));
        Assert.NotEqual(red.Tenant, blue.Tenant);
    }

    [Fact]
    public void The_overlay_has_the_uplink_the_vtep_its_next_hops_and_every_remote_host()
    {
        DaemonConfig config = LoadVswitchd(State, Uplinked);
        PortSpec uplink = config.Spec.Ports.Single(p => p.Role == PortRole.Uplink);
        Assert.Equal((VswitchdPlan.UplinkPort, "net_af_packet0,iface=eth1"), (uplink.Name, uplink.Devargs));
        OverlaySpec overlay = config.Spec.Overlay!;
        Assert.Equal((VswitchdPlan.UplinkPort, "192.168.50.1", 24), (overlay.Uplink, Ipv4.Format(overlay.Vtep), overlay.PrefixLength));
        Assert.Equal(0x02_aa_00_00_00_01UL, overlay.Mac);
        Assert.Equal("192.168.50.254", Ipv4.Format(overlay.Gateway!.Value));
        Assert.Equal([new StaticNeighbourSpec(Ipv4.ParseAddress("192.168.50.254"), 0x02_bb_00_00_00_01UL)], overlay.StaticNeighbours);
        Assert.Equal(
            [("east", "192.168.50.2", TunnelType.Vxlan), ("west", "10.9.0.1", TunnelType.Geneve)],
            overlay.RemoteHosts.Select(h => (h.Name, Ipv4.Format(h.Vtep), h.Tunnel)));
    }

    [Fact]
    public void Each_remote_vm_of_a_tenant_with_a_nic_here_is_configured_with_its_host_mac_and_addresses()
    {
        RemoteVmSpec[] remote = [.. LoadVswitchd(State, Uplinked).Spec.RemoteVms];
        Assert.Equal(
            [("blue-api", "blue", "west", 0x02_00_00_00_00_0bUL, "10.0.0.11"), ("red-cache", "red", "east", 0x02_00_00_00_00_0cUL, "10.0.0.12,10.0.0.13")],
            remote.Select(vm => (vm.Name, vm.Tenant, vm.Host, vm.Mac, string.Join(',', vm.Ipv4.Select(Ipv4.Format)))));
        Assert.Null(VswitchdPlan.Unserved(State, Uplinked));
    }

    [Fact]
    public void A_tenant_without_a_nic_here_is_configured_without_its_remote_vms()
    {
        // green-db is green's: vswitchd could not hold it live (its tenant goes with its last VM), and nothing here reaches it.
        DaemonConfig config = LoadVswitchd(State, Uplinked);
        Assert.Contains(config.Spec.Tenants, t => t.Name == "green");
        Assert.DoesNotContain(config.Spec.RemoteVms, vm => vm.Tenant == "green");
        // red-db has no NIC: a tenant whose VMs have none is as one without VMs.
        DesiredState noNics = State with { Vms = [RedDb], RemoteVms = [PlanFixture.RedCache] };
        Assert.Empty(LoadVswitchd(noNics, Uplinked).Spec.RemoteVms);
    }

    [Fact]
    public void A_host_without_an_uplink_configures_no_remote_vm_and_says_so()
    {
        Assert.Empty(LoadVswitchd(State, Alone).Spec.RemoteVms);
        string? unserved = VswitchdPlan.Unserved(State, Alone);
        Assert.Equal("3 remote VM(s) not programmed (blue-api, green-db, red-cache): the host settings have no vswitchd.uplink, " +
            "so vswitchd has no overlay to reach them through", unserved);
        Assert.Null(VswitchdPlan.Unserved(State with { RemoteVms = [] }, Alone));
    }

    [Fact]
    public void The_daemon_settings_are_the_hosts_and_the_control_socket_is_under_the_runtime_directory()
    {
        DaemonConfig config = LoadVswitchd(State, Uplinked);
        Assert.Equal(Uplinked.Vswitchd.EalArgs, config.EalArgs);
        Assert.Equal([1], config.WorkerCores);
        Assert.Equal($"{Runtime}/vswitchd.sock", config.ControlSocket);
        Assert.Equal(0u, config.ControlLimits.AllowedGroup);
    }

    [Fact]
    public void A_host_without_an_uplink_has_no_overlay_no_vni_and_full_size_nics()
    {
        DaemonConfig config = LoadVswitchd(State, Alone);
        Assert.Null(config.Spec.Overlay);
        Assert.DoesNotContain(config.Spec.Ports, p => p.Role == PortRole.Uplink);
        Assert.All(config.Spec.Tenants, t => Assert.Null(t.Vni));
        Assert.All(config.Spec.Ports, p => Assert.Equal(1500, p.Mtu));
        Assert.Equal(3, config.Spec.Vms.Length);
        Assert.Equal([], config.EalArgs);
    }

    [Fact]
    public void An_empty_state_is_a_switch_without_ports()
    {
        DaemonConfig config = LoadVswitchd(DesiredState.Empty, Alone);
        Assert.Equal(SwitchSpec.Empty.Tenants, config.Spec.Tenants);
        Assert.Empty(config.Spec.Ports);
    }

    [Fact]
    public void The_same_state_in_any_order_compiles_to_the_same_text()
    {
        string text = VswitchdPlan.Compile(State, Uplinked);
        Assert.Equal(text, VswitchdPlan.Compile(State, Uplinked));
        var reversed = new DesiredState([.. State.Tenants.Reverse()], [.. State.Vms.Reverse()], [.. State.Volumes.Reverse()], [.. State.Hosts.Reverse()], [.. State.RemoteVms.Reverse()]);
        Assert.Equal(text, VswitchdPlan.Compile(reversed, Uplinked));
    }

    [Fact]
    public void Names_longer_than_vswitchds_are_shortened_to_distinct_names_it_accepts()
    {
        string tenant = LongName("tenant-"), vmA = LongName("vm-a-"), vmB = LongName("vm-a-")[..^1] + "y";
        var state = new DesiredState(
            [new Tenant(tenant, 7)],
            [BlueWeb with { Name = vmA, Tenant = tenant }, BlueWeb with { Name = vmB, Tenant = tenant, Nics = [new Nic("02:00:00:00:00:09", ["10.0.0.9"])] }],
            [],
            [new RemoteHost(LongName("host-"), "192.168.50.3")],
            [new RemoteVm(LongName("vm-a-")[..^1] + "r", tenant, LongName("host-"), "02:00:00:00:00:0a")]);
        DaemonConfig config = LoadVswitchd(state, Uplinked);
        string[] names =
        [
            .. config.Spec.Vms.Select(vm => vm.Name), .. config.Spec.Tenants.Select(t => t.Name), config.Spec.Overlay!.RemoteHosts[0].Name,
            config.Spec.RemoteVms.Single().Name,
        ];
        Assert.All(names, name => Assert.InRange(name.Length, 1, PlanNames.MaxDaemonName));
        Assert.Equal(config.Spec.Overlay.RemoteHosts[0].Name, config.Spec.RemoteVms[0].Host);
        Assert.Equal(2, config.Spec.Vms.Select(vm => vm.Port).Distinct().Count());
    }

    [Fact]
    public void Settings_with_yaml_syntax_in_them_reach_vswitchd_as_written()
    {
        string[] eal = ["--file-prefix", "a: b # c", "\"quoted\" \\ back", "no", "0x10", "~", "[x]", "é"];
        HostSettings host = Uplinked with { Vswitchd = Uplinked.Vswitchd with { EalArgs = eal } };
        Assert.Equal(eal, LoadVswitchd(State, host).EalArgs);
    }
}
