// A VM's vmm spec compiled from the desired state (docs/agent.md, "Launch plan"), checked as vmm
// itself reads it (VmSpec.Parse, then ToMachineConfig as `vmm run --spec` does), and against the
// vswitchd configuration compiled from the same state.
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using VSwitch.Dataplane.Spec;
using VSwitch.Vmm.Machine;
using Xunit;
using static VSwitch.Tests.Unit.Control.Agent.Plan.PlanFixture;
using VmmSpec = VSwitch.Vmm.Spec.VmSpec;

namespace VSwitch.Tests.Unit.Control.Agent.Plan;

public sealed class VmmPlanTests
{
    [Fact]
    public void The_spec_has_the_vms_guest_api_socket_nics_and_volumes_in_order()
    {
        VmmSpec spec = LoadVmm(RedWeb, State, Uplinked);
        Assert.Equal(("red-web", "/images/bzImage", "/images/initrd.cpio"), (spec.Name, spec.Kernel, spec.Initramfs));
        Assert.Equal((512, 2), (spec.MemoryMib, spec.Vcpus));
        Assert.Equal("quiet console=ttyS0 ip=10.0.0.5:::255.255.255.0:red-web:eth0:off", spec.Cmdline);
        Assert.Equal($"{Runtime}/vmm/red-web.sock", spec.ApiSocket);
        Assert.Equal(
            [($"{Runtime}/vhost/red-web.nic0.sock", "020000000001"), ($"{Runtime}/vhost/red-web.nic1.sock", "020000000002")],
            spec.Nics!.Select(n => (n.Socket, Convert.ToHexStringLower(n.Device.Mac))));
        Assert.All(spec.Nics!, n => Assert.Equal(1450, n.Device.Mtu));
        Assert.Equal([(Pool, "red-root"), (Pool, "red-data")], spec.Disks!.Select(d => (d.Pool!.Folder, d.Pool.Volume)));
        Assert.Equal(["red-root", "red-data"], spec.Disks!.Select(d => d.Id));

        MachineConfig machine = spec.ToMachineConfig(field => field);
        Assert.Equal(("red-web", 2, 2), (machine.Name, machine.Nics.Count, machine.Disks.Count));
    }

    [Fact]
    public void Each_nics_socket_is_the_one_its_vswitchd_port_connects_to()
    {
        Dictionary<string, string> ports = LoadVswitchd(State, Uplinked).Spec.Ports
            .Where(p => p.VhostUser is not null).ToDictionary(p => p.Name, p => p.VhostUser!.Socket);
        foreach (Vm vm in State.Vms)
        {
            IReadOnlyList<NicConfig> nics = LoadVmm(vm, State, Uplinked).Nics!;
            Assert.Equal(vm.Nics?.Count ?? 0, nics.Count);
            for (int i = 0; i < nics.Count; i++)
                Assert.Equal(ports[PlanNames.Nic(vm.Name, i)], nics[i].Socket);
        }
        Assert.Equal(3, ports.Count);
    }

    [Fact]
    public void A_vm_without_initramfs_nics_or_volumes_has_none_and_still_gets_the_console()
    {
        VmmSpec spec = LoadVmm(RedDb, State, Alone with { Vmm = new VmmSettings() });
        Assert.Null(spec.Initramfs);
        Assert.Empty(spec.Nics!);
        Assert.Empty(spec.Disks!);
        Assert.Equal("reboot=k panic=-1 pci=off console=ttyS0", spec.Cmdline);
    }

    [Fact]
    public void Without_an_uplink_nics_are_full_size()
    {
        Assert.All(LoadVmm(BlueWeb, State, Alone).Nics!, n => Assert.Equal(1500, n.Device.Mtu));
        Assert.All(LoadVswitchd(State, Alone).Spec.Ports, p => Assert.Equal(1500, p.Mtu));
    }

    [Fact]
    public void A_set_nic_mtu_is_both_sides()
    {
        HostSettings host = Uplinked with { Vswitchd = Uplinked.Vswitchd with { NicMtu = 1400 } };
        Assert.All(LoadVmm(RedWeb, State, host).Nics!, n => Assert.Equal(1400, n.Device.Mtu));
        Assert.All(LoadVswitchd(State, host).Spec.Ports.Where(p => p.Role == PortRole.Vm), p => Assert.Equal(1400, p.Mtu));
    }

    [Fact]
    public void A_vm_with_volumes_on_a_host_without_a_pool_is_refused_naming_the_setting()
    {
        var refusal = Assert.Throws<PlanException>(() => VmmPlan.Compile(RedWeb, State, Alone with { Vmm = new VmmSettings() }));
        Assert.Equal("vmm.volume_pool", refusal.Field);
        Assert.StartsWith("vmm.volume_pool: ", refusal.Message);
    }

    [Fact]
    public void A_volume_the_state_has_not_attached_to_the_vm_is_refused_naming_it()
    {
        var stale = State with { Volumes = [.. State.Volumes.Select(v => v.Name == "red-data" ? v with { Vm = "other" } : v)] };
        var refusal = Assert.Throws<PlanException>(() => VmmPlan.Compile(RedWeb, stale, Uplinked));
        Assert.Equal("volumes[1]", refusal.Field);
        Assert.Contains("'red-data'", refusal.Message);
    }

    [Fact]
    public void Long_vm_and_volume_names_are_shortened_to_what_vmm_and_the_pool_accept()
    {
        string vm = LongName("web-"), volume = LongName("data-");
        var state = new DesiredState([new Tenant("red", 100)], [RedWeb with { Name = vm, Volumes = [volume] }], [new Volume(volume, 64, vm)], [], []);
        VmmSpec spec = LoadVmm(state.Vms[0], state, Uplinked);
        Assert.Equal(PlanNames.Daemon(vm), spec.Name);
        Assert.InRange(spec.Name!.Length, 1, PlanNames.MaxDaemonName);
        Assert.Equal(PlanNames.PoolVolume(volume), spec.Disks![0].Pool!.Volume);
        Assert.InRange(spec.Disks[0].Id.Length, 1, PlanNames.MaxVolumeName);
        Assert.All(spec.Nics!.Select(n => n.Socket).Append(spec.ApiSocket!), socket => Assert.InRange(socket.Length, 1, RuntimePaths.MaxSocketPath));
        spec.ToMachineConfig(field => field);
    }

    [Fact]
    public void The_same_vm_compiles_to_the_same_text() =>
        Assert.Equal(VmmPlan.Compile(RedWeb, State, Uplinked), VmmPlan.Compile(RedWeb with { Nics = [.. RedWeb.Nics!] }, State, Uplinked));
}
