// How many tenants a snapshot can tell apart, and how long a tenant lives: from the add-vm that
// creates it to the remove-vm of its last VM.
using System.Text;
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Protocols;
using VSwitch.Tests.Unit.Overlay;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;
using Xunit;

namespace VSwitch.Tests.Unit.Switching;

public class TenantLifetimeTests
{
    private const ulong Mac = 0x0200_0000_0001;

    private static readonly Dictionary<string, ushort> s_portIds = new() { ["p0"] = 0, ["p1"] = 1 };

    /// <summary><paramref name="count"/> tenants t0..; a VM with the same MAC in the first and the last.</summary>
    private static SwitchSpec ManyTenants(int count) =>
        new([.. Enumerable.Range(0, count).Select(t => new TenantSpec($"t{t}"))],
            [new PortSpec("p0", "net_null0", PortRole.Vm, 1500, 1), new PortSpec("p1", "net_null1", PortRole.Vm, 1500, 1)],
            [new VmSpec("first", "t0", "p0", Mac, [], []), new VmSpec("last", $"t{count - 1}", "p1", Mac, [], [])]);

    [Fact]
    public void The_65536th_tenant_is_refused_because_its_keys_lose_their_tenant()
    {
        // Why: the MAC table keeps (index + 1) in 16 bits: index 65535 loses its tenant bits
        // altogether, and index 65536 wraps onto tenant 0's keys.
        Assert.Equal(Mac, SwitchTables.MacKey(SwitchTables.MaxTenants, Mac));
        Assert.Equal(SwitchTables.MacKey(0, Mac), SwitchTables.MacKey(SwitchTables.MaxTenants + 1, Mac));

        SwitchSpec spec = ManyTenants(SwitchTables.MaxTenants + 1);
        Assert.Equal(["tenants: 65536 tenants configured; at most 65535 (the switching tables key a tenant in 16 bits)"], SpecValidator.Validate(spec));
        Assert.Throws<ArgumentException>(() => SwitchTables.Build(spec, s_portIds, 1));
    }

    [Fact]
    public void The_65535th_tenant_keeps_its_VMs_apart_from_tenant_0s()
    {
        SwitchSpec spec = ManyTenants(SwitchTables.MaxTenants);
        Assert.Empty(SpecValidator.Validate(spec));
        SwitchTables tables = SwitchTables.Build(spec, s_portIds, 1);
        Assert.True(tables.MacTable.TryGetValue(SwitchTables.MacKey(0, Mac), out PortBinding? first));
        Assert.True(tables.MacTable.TryGetValue(SwitchTables.MacKey(SwitchTables.MaxTenants - 1, Mac), out PortBinding? last));
        Assert.Equal(("first", "last"), (first.VmName, last.VmName));
    }

    [Fact]
    public void A_config_file_with_65536_tenants_fails_to_load_naming_the_limit()
    {
        var yaml = new StringBuilder("dpdk: { eal_args: [] }\ntenants:\n");
        for (int t = 0; t <= SwitchTables.MaxTenants; t++)
            yaml.Append("  - { name: t").Append(t).Append(" }\n");
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml.ToString(), ConfigFormat.Yaml));
        Assert.Contains("tenants: 65536 tenants configured; at most 65535", error.Message);
    }

    [Fact]
    public void Add_vm_of_a_65536th_tenant_is_refused_by_the_validator()
    {
        SwitchSpec spec = ManyTenants(SwitchTables.MaxTenants);
        SwitchSpec next = SpecChanges.AddVm(spec, new VmSpec("one-too-many", "new", "p0", 0x0200_0000_0099, [], []), vni: null);
        Assert.Contains("tenants: 65536 tenants configured; at most 65535 (the switching tables key a tenant in 16 bits)", SpecValidator.Validate(next));
    }

    [Fact]
    public void Removing_a_tenants_last_VM_removes_the_tenant_and_its_remote_VMs()
    {
        SwitchSpec spec = OverlayTopology.Spec; // red (two VMs, three remote), blue (one VM, one remote)
        SwitchSpec withoutBlue = SpecChanges.RemoveVm(spec, spec.Vms.Single(vm => vm.Name == "blue-a"));
        Assert.Empty(SpecValidator.Validate(withoutBlue));
        Assert.Equal(["red"], withoutBlue.Tenants.Select(t => t.Name));
        Assert.Equal(["red-c", "red-d", "red-e"], withoutBlue.RemoteVms.Select(vm => vm.Name));

        // Red keeps going while one of its VMs is left.
        SwitchSpec oneRed = SpecChanges.RemoveVm(withoutBlue, withoutBlue.Vms.Single(vm => vm.Name == "red-a"));
        Assert.Equal(["red"], oneRed.Tenants.Select(t => t.Name));
        SwitchSpec none = SpecChanges.RemoveVm(oneRed, oneRed.Vms.Single(vm => vm.Name == "red-b"));
        Assert.Empty(none.Tenants);
        Assert.Empty(none.RemoteVms);
    }

    [Fact]
    public void A_tenant_that_takes_over_a_removed_tenants_index_sees_nothing_of_it()
    {
        SwitchSpec spec = OverlayTopology.Spec;
        VmSpec blueA = spec.Vms.Single(vm => vm.Name == "blue-a");
        spec = SpecChanges.RemoveVm(spec, blueA);
        // Green takes blue's index (1), port and MAC; blue had a remote VM (blue-c: host-b, 10.0.0.3) and VNI 5002.
        spec = SpecChanges.AddVm(spec, blueA with { Name = "green-a", Tenant = "green" }, vni: 7001);
        Assert.Empty(SpecValidator.Validate(spec));
        Assert.Equal(["red", "green"], spec.Tenants.Select(t => t.Name));

        SwitchTables tables = OverlayTopology.Build(spec);
        OverlayTables overlay = tables.Overlay!;
        const int green = 1;
        Assert.True(overlay.TenantByVni.TryGetValue(OverlayTables.VniKey(7001), out int byVni));
        Assert.Equal(green, byVni);
        Assert.False(overlay.TenantByVni.TryGetValue(OverlayTables.VniKey(OverlayTopology.BlueVni), out _));
        Assert.False(overlay.Tunnels.TryGetValue(OverlayTables.TunnelKey(Ipv4.ParseAddress(OverlayTopology.HostB), OverlayTopology.BlueVni, TunnelType.Vxlan), out _));
        Assert.Empty(overlay.FloodEndpoints[green]);
        Assert.False(overlay.RemoteMacs.TryGetValue(SwitchTables.MacKey(green, TestTopology.Mac(OverlayTopology.RedC)), out _));
        Assert.False(tables.ArpTable.TryGetValue(SwitchTables.ArpKey(green, Ipv4.ParseAddress("10.0.0.3")), out _));
        Assert.True(tables.MacTable.TryGetValue(SwitchTables.MacKey(green, blueA.Mac), out PortBinding? port));
        Assert.Equal("green-a", port.VmName);
    }
}
