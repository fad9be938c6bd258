// The reconcile loop's diff (Reconcile/VswitchdDiff.cs): the plan against what vswitchd reports.
// The oracle is vswitchd's own code, not the diff's: a vswitchd is simulated by its spec, loaded
// from a compiled file by its ConfigLoader, changed by its control requests' readers and
// SpecChanges, checked by its SpecValidator as its add ops are, and reported by its `list` writer
// (SpecJson) through JSON text as on the wire. The tests check that applying the ops leaves
// nothing to change, and which ops it takes.
using System.Text.Json.Nodes;
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Daemon;
using VSwitch.Dataplane.Spec;
using Xunit;
using static VSwitch.Tests.Unit.Control.Agent.Plan.PlanFixture;

namespace VSwitch.Tests.Unit.Control.Agent.Reconcile;

public sealed class VswitchdDiffTests
{
    /// <summary>vswitchd as its control ops change it: the add and remove requests read by its own readers.</summary>
    private sealed class SimulatedVswitchd(SwitchSpec spec)
    {
        public SwitchSpec Spec { get; private set; } = spec;

        /// <summary>Started on the file the plan of <paramref name="state"/> compiles to.</summary>
        public static SimulatedVswitchd On(DesiredState state, HostSettings host) => new(LoadVswitchd(state, host).Spec);

        public JsonObject List() => (JsonObject)JsonNode.Parse(SpecJson.Write(Spec).ToJsonString())!;

        public void Apply(JsonObject op)
        {
            var request = (JsonObject)op.DeepClone();
            string name = (string)request["name"]!;
            Spec = (string)request["op"]! switch
            {
                "add-port" => Spec with { Ports = Spec.Ports.Add(ControlRequests.Port(Without(request, "op"))) },
                "remove-port" => RemovePort(name),
                "add-vm" => AddVm(Without(request, "op")),
                "remove-vm" => SpecChanges.RemoveVm(Spec, Spec.Vms.Single(vm => vm.Name == name)),
                "add-remote-vm" => AddRemoteVm(Without(request, "op")),
                "remove-remote-vm" => Spec with { RemoteVms = Spec.RemoteVms.Remove(Spec.RemoteVms.Single(vm => vm.Name == name)) },
                string other => throw new InvalidOperationException($"unexpected op {other}"),
            };
        }

        /// <summary>vswitchd refuses to remove a port a VM is bound to.</summary>
        private SwitchSpec RemovePort(string name)
        {
            Assert.DoesNotContain(Spec.Vms, vm => vm.Port == name);
            return Spec with { Ports = Spec.Ports.RemoveAll(p => p.Name == name) };
        }

        private SwitchSpec AddVm(JsonObject request)
        {
            (VmSpec vm, uint? vni) = ControlRequests.Vm(request);
            Assert.Contains(Spec.Ports, p => p.Name == vm.Port);
            return Valid(SpecChanges.AddVm(Spec, vm, vni));
        }

        /// <summary>vswitchd refuses a remote VM of a tenant it does not hold.</summary>
        private SwitchSpec AddRemoteVm(JsonObject request)
        {
            RemoteVmSpec vm = ControlRequests.RemoteVm(request);
            Assert.Contains(Spec.Tenants, t => t.Name == vm.Tenant);
            return Valid(Spec with { RemoteVms = Spec.RemoteVms.Add(vm) });
        }

        /// <summary>vswitchd checks the whole spec after an add: a MAC or address twice in a tenant, a VM and a remote VM of one name.</summary>
        private static SwitchSpec Valid(SwitchSpec next)
        {
            Assert.Empty(SpecValidator.Validate(next));
            return next;
        }

        private static JsonObject Without(JsonObject request, string field)
        {
            request.Remove(field);
            return request;
        }

        /// <summary>Computes the diff against the plan, applies it, and returns the ops it took; the diff afterwards must be empty.</summary>
        public IReadOnlyList<JsonObject> Converge(JsonObject plan)
        {
            VswitchdChanges changes = VswitchdDiff.Compute(plan, List());
            Assert.Null(changes.Restart);
            foreach (JsonObject op in changes.Ops)
                Apply(op);
            VswitchdChanges after = VswitchdDiff.Compute(plan, List());
            Assert.True(after.None, $"still to do after applying: {string.Join(", ", after.Ops.Select(o => o.ToJsonString()))} {after.Restart}");
            return changes.Ops;
        }
    }

    private static string[] Summary(IEnumerable<JsonObject> ops) => [.. ops.Select(o => $"{o["op"]} {o["name"]}")];

    /// <summary>The VMs as `list` reports them, in name order.</summary>
    private static string[] VmsOf(SwitchSpec spec) => [.. spec.Vms.OrderBy(vm => vm.Name, StringComparer.Ordinal)
        .Select(vm => SpecJson.Write(SwitchSpec.Empty with { Vms = [vm] })["vms"]![0]!.ToJsonString())];

    private static DesiredState Without(DesiredState state, string vm) => state with { Vms = [.. state.Vms.Where(v => v.Name != vm)] };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_vswitchd_started_on_the_plans_file_has_nothing_to_change(bool uplinked)
    {
        HostSettings host = uplinked ? Uplinked : Alone;
        VswitchdChanges changes = VswitchdDiff.Compute(VswitchdPlan.Build(State, host), SimulatedVswitchd.On(State, host).List());
        Assert.True(changes.None, string.Join(", ", changes.Ops.Select(o => o.ToJsonString())));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_empty_vswitchd_gets_every_nics_port_then_its_vm(bool uplinked)
    {
        HostSettings host = uplinked ? Uplinked : Alone;
        // Its remote hosts are the plan's: they are the part only a restart changes, done before any op.
        var vswitchd = SimulatedVswitchd.On(State with { Tenants = [], Vms = [], RemoteVms = [] }, host);
        IReadOnlyList<JsonObject> ops = vswitchd.Converge(VswitchdPlan.Build(State, host));
        string[] remoteVms = uplinked ? ["add-remote-vm blue-api", "add-remote-vm red-cache"] : [];
        Assert.Equal(
            ["add-port blue-web.nic0", "add-port red-web.nic0", "add-port red-web.nic1", "add-vm blue-web.nic0", "add-vm red-web.nic0", "add-vm red-web.nic1", .. remoteVms],
            Summary(ops));
        Assert.Equal(VmsOf(LoadVswitchd(State, host).Spec), VmsOf(vswitchd.Spec));
    }

    [Fact]
    public void Add_vm_carries_the_tenants_vni_only_with_an_overlay()
    {
        IReadOnlyList<JsonObject> uplinked = VswitchdDiff.Compute(VswitchdPlan.Build(State, Uplinked), SimulatedVswitchd.On(DesiredState.Empty, Uplinked).List()).Ops;
        Assert.Equal(200u, (uint)uplinked.Single(o => (string)o["op"]! == "add-vm" && (string)o["name"]! == "blue-web.nic0")["vni"]!);
        IReadOnlyList<JsonObject> alone = VswitchdDiff.Compute(VswitchdPlan.Build(State, Alone), SimulatedVswitchd.On(DesiredState.Empty, Alone).List()).Ops;
        Assert.All(alone.Where(o => (string)o["op"]! == "add-vm"), o => Assert.False(o.ContainsKey("vni")));
    }

    [Fact]
    public void A_deleted_vm_loses_its_vms_then_its_ports()
    {
        // red-web has red's only NICs: red-cache is removed first, before the last remove-vm takes it with red.
        var vswitchd = SimulatedVswitchd.On(State, Uplinked);
        IReadOnlyList<JsonObject> ops = vswitchd.Converge(VswitchdPlan.Build(Without(State, "red-web"), Uplinked));
        Assert.Equal(["remove-remote-vm red-cache", "remove-vm red-web.nic0", "remove-vm red-web.nic1", "remove-port red-web.nic0", "remove-port red-web.nic1"], Summary(ops));
    }

    [Fact]
    public void A_vm_whose_nic_changed_is_bound_again_on_the_same_port()
    {
        var vswitchd = SimulatedVswitchd.On(State, Uplinked);
        Vm changed = BlueWeb with { Nics = [new Nic("02:00:00:00:00:09", ["10.0.0.9"])] };
        DesiredState after = Without(State, "blue-web") with { Vms = [.. Without(State, "blue-web").Vms, changed] };
        IReadOnlyList<JsonObject> ops = vswitchd.Converge(VswitchdPlan.Build(after, Uplinked));
        // blue-web.nic0 is blue's only VM: blue goes with it, blue-api too, and both come back.
        Assert.Equal(["remove-remote-vm blue-api", "remove-vm blue-web.nic0", "add-vm blue-web.nic0", "add-remote-vm blue-api"], Summary(ops));
    }

    [Fact]
    public void A_port_that_differs_is_replaced_with_its_vm_removed_first_and_bound_again()
    {
        var vswitchd = SimulatedVswitchd.On(State, Uplinked);
        HostSettings jumbo = Uplinked with { Vswitchd = Uplinked.Vswitchd with { NicMtu = 2000 } };
        IReadOnlyList<JsonObject> ops = vswitchd.Converge(VswitchdPlan.Build(State, jumbo));
        Assert.Equal(
            ["remove-remote-vm blue-api", "remove-remote-vm red-cache",
             "remove-vm blue-web.nic0", "remove-vm red-web.nic0", "remove-vm red-web.nic1",
             "remove-port blue-web.nic0", "remove-port red-web.nic0", "remove-port red-web.nic1",
             "add-port blue-web.nic0", "add-port red-web.nic0", "add-port red-web.nic1",
             "add-vm blue-web.nic0", "add-vm red-web.nic0", "add-vm red-web.nic1",
             "add-remote-vm blue-api", "add-remote-vm red-cache"],
            Summary(ops));
        Assert.All(vswitchd.Spec.Ports.Where(p => p.VhostUser is not null), p => Assert.Equal(2000, p.Mtu));
    }

    [Fact]
    public void What_vswitchd_holds_beyond_the_plan_is_removed_and_the_uplink_is_left_alone()
    {
        var vswitchd = SimulatedVswitchd.On(State, Uplinked);
        vswitchd.Apply(new JsonObject { ["op"] = "add-port", ["name"] = "stray", ["devargs"] = "net_null9" });
        IReadOnlyList<JsonObject> ops = vswitchd.Converge(VswitchdPlan.Build(State, Uplinked));
        Assert.Equal(["remove-port stray"], Summary(ops));
        Assert.Contains(vswitchd.Spec.Ports, p => p.Name == VswitchdPlan.UplinkPort);
    }

    [Fact]
    public void A_tenant_whose_vni_changed_is_recreated_by_binding_its_vms_again()
    {
        var vswitchd = SimulatedVswitchd.On(State, Uplinked);
        DesiredState after = State with { Tenants = [.. State.Tenants.Select(t => t.Name == "blue" ? t with { Vni = 222 } : t)] };
        IReadOnlyList<JsonObject> ops = vswitchd.Converge(VswitchdPlan.Build(after, Uplinked));
        Assert.Equal(["remove-remote-vm blue-api", "remove-vm blue-web.nic0", "add-vm blue-web.nic0", "add-remote-vm blue-api"], Summary(ops));
        Assert.Equal(222u, vswitchd.Spec.Tenants.Single(t => t.Name == "blue").Vni);
    }

    [Fact]
    public void A_tenant_vswitchd_holds_without_vms_under_another_vni_needs_a_restart()
    {
        // green has no VM: vswitchd keeps it from its file with VNI 300, and add-vm would join it.
        var vswitchd = SimulatedVswitchd.On(State, Uplinked);
        Vm greenVm = new("green-app", "green", 1, 128, "/images/bzImage", Nics: [new Nic("02:00:00:00:00:07", ["10.0.0.7"])]);
        DesiredState after = State with
        {
            Tenants = [.. State.Tenants.Select(t => t.Name == "green" ? t with { Vni = 333 } : t)],
            Vms = [.. State.Vms, greenVm],
        };
        VswitchdChanges changes = VswitchdDiff.Compute(VswitchdPlan.Build(after, Uplinked), vswitchd.List());
        Assert.Empty(changes.Ops);
        Assert.Contains("tenant 'green' has VNI 300", changes.Restart);
    }

    [Fact]
    public void A_remote_vm_is_added_and_removed_live_and_alone()
    {
        DesiredState without = State with { RemoteVms = [.. State.RemoteVms.Where(vm => vm != BlueApi)] };
        var vswitchd = SimulatedVswitchd.On(without, Uplinked);
        Assert.Equal(["add-remote-vm blue-api"], Summary(vswitchd.Converge(VswitchdPlan.Build(State, Uplinked))));
        RemoteVmSpec added = vswitchd.Spec.RemoteVms.Single(vm => vm.Name == "blue-api");
        Assert.Equal(("blue", "west", 0x02_00_00_00_00_0bUL), (added.Tenant, added.Host, added.Mac));
        Assert.Equal(["remove-remote-vm blue-api"], Summary(vswitchd.Converge(VswitchdPlan.Build(without, Uplinked))));
    }

    [Fact]
    public void A_remote_vm_that_changed_is_removed_and_added_again()
    {
        var vswitchd = SimulatedVswitchd.On(State, Uplinked);
        DesiredState moved = State with { RemoteVms = [.. State.RemoteVms.Select(vm => vm == RedCache ? vm with { Host = "west", Ipv4 = ["10.0.0.14"] } : vm)] };
        Assert.Equal(["remove-remote-vm red-cache", "add-remote-vm red-cache"], Summary(vswitchd.Converge(VswitchdPlan.Build(moved, Uplinked))));
        Assert.Equal("west", vswitchd.Spec.RemoteVms.Single(vm => vm.Name == "red-cache").Host);
    }

    [Fact]
    public void A_tenants_first_nic_here_brings_its_remote_vms_after_it()
    {
        // green has a remote VM but no NIC here; vswitchd holds green from its file, without it.
        var vswitchd = SimulatedVswitchd.On(State, Uplinked);
        Assert.DoesNotContain(vswitchd.Spec.RemoteVms, vm => vm.Name == "green-db");
        Vm greenVm = new("green-app", "green", 1, 128, "/images/bzImage", Nics: [new Nic("02:00:00:00:00:07", ["10.0.0.7"])]);
        IReadOnlyList<JsonObject> ops = vswitchd.Converge(VswitchdPlan.Build(State with { Vms = [.. State.Vms, greenVm] }, Uplinked));
        Assert.Equal(["add-port green-app.nic0", "add-vm green-app.nic0", "add-remote-vm green-db"], Summary(ops));
    }

    [Fact]
    public void A_remote_vm_of_a_tenant_vswitchd_dropped_is_added_again_with_the_tenants_next_vm()
    {
        // blue-web deleted: blue goes from vswitchd with blue-api. Created again: blue-api comes back after it.
        var vswitchd = SimulatedVswitchd.On(State, Uplinked);
        vswitchd.Converge(VswitchdPlan.Build(Without(State, "blue-web"), Uplinked));
        Assert.DoesNotContain(vswitchd.Spec.Tenants, t => t.Name == "blue");
        IReadOnlyList<JsonObject> ops = vswitchd.Converge(VswitchdPlan.Build(State, Uplinked));
        Assert.Equal(["add-port blue-web.nic0", "add-vm blue-web.nic0", "add-remote-vm blue-api"], Summary(ops));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_mac_that_moves_between_a_vm_here_and_a_remote_vm_is_freed_before_it_is_taken(bool toRemote)
    {
        // A VM migrating: red-web's second NIC's MAC and address, here, or as the remote VM red-moved.
        Vm oneNic = RedWeb with { Nics = [RedWeb.Nics![0]] };
        RemoteVm moved = new("red-moved", "red", "east", "02:00:00:00:00:02", ["10.0.1.5"]);
        DesiredState here = State, there = State with { Vms = [.. State.Vms.Select(vm => vm == RedWeb ? oneNic : vm)], RemoteVms = [.. State.RemoteVms, moved] };
        var vswitchd = SimulatedVswitchd.On(toRemote ? here : there, Uplinked);
        IReadOnlyList<JsonObject> ops = vswitchd.Converge(VswitchdPlan.Build(toRemote ? there : here, Uplinked));
        Assert.Equal(toRemote
                ? ["remove-vm red-web.nic1", "remove-port red-web.nic1", "add-remote-vm red-moved"]
                : ["remove-remote-vm red-moved", "add-port red-web.nic1", "add-vm red-web.nic1"],
            Summary(ops));
    }

    [Fact]
    public void The_static_fingerprint_ignores_vms_and_tenants_and_follows_the_overlay()
    {
        string full = VswitchdDiff.StaticFingerprint(VswitchdPlan.Build(State, Uplinked));
        Assert.Equal(full, VswitchdDiff.StaticFingerprint(VswitchdPlan.Build(State with { Vms = [], Tenants = [], RemoteVms = [] }, Uplinked)));
        Assert.NotEqual(full, VswitchdDiff.StaticFingerprint(VswitchdPlan.Build(State with { Hosts = [] }, Uplinked)));
        Assert.NotEqual(full, VswitchdDiff.StaticFingerprint(VswitchdPlan.Build(State, Uplinked with { Vswitchd = Uplinked.Vswitchd with { WorkerCores = [2] } })));
    }

    [Fact]
    public void A_list_reply_without_its_arrays_is_refused_by_name()
    {
        var e = Assert.Throws<InvalidDataException>(() => VswitchdDiff.Compute(VswitchdPlan.Build(State, Alone), new JsonObject { ["ok"] = true }));
        Assert.Contains("'ports'", e.Message);
        JsonObject list = SimulatedVswitchd.On(State, Alone).List();
        list.Remove("remote_vms");
        Assert.Contains("'remote_vms'", Assert.Throws<InvalidDataException>(() => VswitchdDiff.Compute(VswitchdPlan.Build(State, Alone), list)).Message);
    }
}
