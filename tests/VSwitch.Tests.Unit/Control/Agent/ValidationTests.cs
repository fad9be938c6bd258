// The agent's rules (docs/agent.md, "Resources"), each refusing with its status and the field it
// is about, checked on DesiredState values without a store: a rule is a function of the request
// and the state.
using System.Net;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using Xunit;
using static VSwitch.Tests.Unit.Control.Agent.AgentFixture;

namespace VSwitch.Tests.Unit.Control.Agent;

public sealed class ValidationTests : IDisposable
{
    private readonly AgentFixture _fixture = new();

    private static DesiredState CreateVm(Vm vm, DesiredState? state = null, HostResources? host = null) =>
        VmRules.Create(vm, state ?? Seeded(), host ?? Host).After;

    [Theory]
    [InlineData("")]
    [InlineData("-web")]
    [InlineData("Web")]
    [InlineData("web_1")]
    [InlineData("a234567890123456789012345678901234567890123456789012345678901234")]
    public void A_name_outside_the_pattern_is_refused_naming_the_field(string name)
    {
        Refused(HttpStatusCode.BadRequest, "name", () => TenantRules.Create(new Tenant(name, 7), Seeded()));
        Refused(HttpStatusCode.BadRequest, "name", () => VolumeRules.Create(new Volume(name, 1), Seeded()));
        Refused(HttpStatusCode.BadRequest, "name", () => RemoteHostRules.Create(new RemoteHost(name, "192.0.2.1"), Seeded()));
        Refused(HttpStatusCode.BadRequest, "name", () => CreateVm(_fixture.Vm(name)));
        Refused(HttpStatusCode.BadRequest, "name", () => RemoteVmRules.Create(RemoteVm(name), Seeded()));
    }

    [Fact]
    public void Names_of_one_to_63_characters_pass()
    {
        string longest = "a" + new string('-', 61) + "z";
        Assert.Equal(63, longest.Length);
        Assert.Single(TenantRules.Create(new Tenant(longest, 7), DesiredState.Empty).After.Tenants);
        Assert.Single(TenantRules.Create(new Tenant("0", 7), DesiredState.Empty).After.Tenants);
    }

    [Fact]
    public void A_missing_body_or_name_is_required()
    {
        Refused(HttpStatusCode.BadRequest, "body", () => TenantRules.Create(null, Seeded()));
        Refused(HttpStatusCode.BadRequest, "name", () => TenantRules.Create(new Tenant(null!, 7), Seeded()));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(16_777_216u)]
    public void A_vni_beyond_24_bits_or_zero_is_refused(uint vni) =>
        Refused(HttpStatusCode.BadRequest, "vni", () => TenantRules.Create(new Tenant("red", vni), Seeded()));

    [Fact]
    public void A_vni_another_tenant_has_is_a_conflict_naming_that_tenant()
    {
        Refusal refusal = Refused(HttpStatusCode.Conflict, "vni", () => TenantRules.Create(new Tenant("red", 100), Seeded()));
        Assert.Contains("'blue'", refusal.Message);
        Assert.Equal(16_777_215u, TenantRules.Create(new Tenant("red", 16_777_215), Seeded()).Stored.Vni);
    }

    [Fact]
    public void A_taken_name_is_a_conflict_for_every_kind()
    {
        DesiredState state = CreateVm(_fixture.Vm());
        Refused(HttpStatusCode.Conflict, "name", () => TenantRules.Create(new Tenant("blue", 5), state));
        Refused(HttpStatusCode.Conflict, "name", () => VolumeRules.Create(new Volume("disk-a", 5), state));
        Refused(HttpStatusCode.Conflict, "name", () => RemoteHostRules.Create(new RemoteHost("east", "192.0.2.99"), state));
        Refused(HttpStatusCode.Conflict, "name", () => CreateVm(_fixture.Vm(mac: "02:00:00:00:00:99", ip: "10.0.0.99"), state));
        state = RemoteVmRules.Create(RemoteVm(), state).After;
        Refused(HttpStatusCode.Conflict, "name", () => RemoteVmRules.Create(RemoteVm(mac: "02:00:00:00:00:98", ipv4: "10.0.0.98"), state));
    }

    [Fact]
    public void A_tenant_with_vms_cannot_be_deleted_and_a_missing_one_is_not_found()
    {
        DesiredState state = CreateVm(_fixture.Vm());
        Refusal refusal = Refused(HttpStatusCode.Conflict, "name", () => TenantRules.Delete("blue", state));
        Assert.Contains("web-1", refusal.Message);
        Refused(HttpStatusCode.NotFound, "name", () => TenantRules.Delete("green", state));
        Assert.Empty(TenantRules.Delete("blue", VmRules.Delete("web-1", state)).Tenants);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(16L * 1024 * 1024 + 1)]
    public void A_volume_size_out_of_range_is_refused(long size) =>
        Refused(HttpStatusCode.BadRequest, "size_mib", () => VolumeRules.Create(new Volume("disk-c", size), Seeded()));

    [Fact]
    public void A_volume_request_cannot_attach_itself() =>
        Refused(HttpStatusCode.BadRequest, "vm", () => VolumeRules.Create(new Volume("disk-c", 10, "web-1"), Seeded()));

    [Fact]
    public void An_attached_volume_cannot_be_deleted_until_its_vm_is()
    {
        DesiredState state = CreateVm(_fixture.Vm(volumes: ["disk-a"]));
        Refusal refusal = Refused(HttpStatusCode.Conflict, "name", () => VolumeRules.Delete("disk-a", state));
        Assert.Contains("'web-1'", refusal.Message);
        Assert.DoesNotContain(VolumeRules.Delete("disk-a", VmRules.Delete("web-1", state)).Volumes, v => v.Name == "disk-a");
    }

    [Theory]
    [InlineData("10.0.0")]
    [InlineData("10.0.0.256")]
    [InlineData("010.0.0.1")]
    [InlineData("1")]
    [InlineData("10.0.0.1 ")]
    [InlineData("0.0.0.0")]
    [InlineData("127.0.0.1")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    public void A_vtep_that_is_not_a_unicast_ipv4_address_is_refused(string vtep) =>
        Refused(HttpStatusCode.BadRequest, "vtep", () => RemoteHostRules.Create(new RemoteHost("west", vtep), Seeded()));

    [Fact]
    public void A_vtep_another_host_has_is_a_conflict_and_the_tunnel_is_vxlan_or_geneve()
    {
        Assert.Contains("'east'", Refused(HttpStatusCode.Conflict, "vtep", () => RemoteHostRules.Create(new RemoteHost("west", "192.0.2.10"), Seeded())).Message);
        Refused(HttpStatusCode.BadRequest, "tunnel", () => RemoteHostRules.Create(new RemoteHost("west", "192.0.2.11", "gre"), Seeded()));
        Assert.Equal("geneve", RemoteHostRules.Create(new RemoteHost("west", "192.0.2.11", "geneve"), Seeded()).Stored.Tunnel);
    }

    [Fact]
    public void A_vm_of_a_missing_tenant_is_not_found() =>
        Refused(HttpStatusCode.NotFound, "tenant", () => CreateVm(_fixture.Vm(tenant: "green")));

    [Theory]
    [InlineData(0, 1024, "vcpus")]
    [InlineData(65, 1024, "vcpus")]
    [InlineData(1, 15, "memory_mib")]
    [InlineData(1, 62, "memory_mib")]
    [InlineData(1, 257, "memory_mib")]
    [InlineData(1, 1024 * 1024 + 1, "memory_mib")]
    public void Vcpus_and_memory_out_of_range_are_refused(int vcpus, int memoryMib, string field) =>
        Refused(HttpStatusCode.BadRequest, field, () => CreateVm(_fixture.Vm() with { Vcpus = vcpus, MemoryMib = memoryMib }, host: Host with { MemoryMib = 2L << 20 }));

    [Fact]
    public void A_vm_gets_no_more_nics_and_volumes_together_than_vmm_has_device_slots()
    {
        Nic[] nics = [.. Enumerable.Range(1, VmRules.MaxDevices + 1).Select(i => new Nic($"02:00:00:00:01:{i:x2}", [$"10.0.1.{i}"]))];
        Refused(HttpStatusCode.BadRequest, "nics", () => CreateVm(_fixture.Vm() with { Nics = nics }));
        Assert.Single(CreateVm(_fixture.Vm() with { Nics = nics[..VmRules.MaxDevices] }).Vms);
    }

    /// <summary>A VM the agent accepts must be one vmm boots: the agent states vmm's limits, and this pins them to vmm's own.</summary>
    [Fact]
    public void The_agents_vm_limits_are_vmms()
    {
        Assert.Equal((int)(VSwitch.Vmm.Boot.E820Map.MinimumMemorySize >> 20), VmRules.MinMemoryMib);
        Assert.Equal((int)(VSwitch.Vmm.Boot.E820Map.MemoryAlignment >> 20), VmRules.MemoryAlignmentMib);
        Assert.Equal(VSwitch.Vmm.Machine.MachineConfig.MaxVirtioDevices, VmRules.MaxDevices);
        Assert.Equal(VSwitch.Vmm.Spec.VmSpec.MaxMemoryMib, VmRules.MaxMemoryMib);
        Assert.True(VmRules.MaxVcpus <= VSwitch.Vmm.Acpi.AcpiTables.MaxVcpus);
        Assert.Equal(VSwitch.Vmm.Machine.MachineConfig.DefaultCommandLine, $"console=ttyS0 {VSwitch.Control.Agent.Plan.KernelCmdline.DefaultParameters}");
    }

    [Fact]
    public void Kernel_and_initramfs_are_absolute_paths_of_existing_files()
    {
        Refused(HttpStatusCode.BadRequest, "kernel", () => CreateVm(_fixture.Vm() with { Kernel = "bzImage" }));
        Refused(HttpStatusCode.BadRequest, "kernel", () => CreateVm(_fixture.Vm() with { Kernel = _fixture.Kernel + ".missing" }));
        Refused(HttpStatusCode.BadRequest, "kernel", () => CreateVm(_fixture.Vm() with { Kernel = null! }));
        Assert.Contains("directory", Refused(HttpStatusCode.BadRequest, "initramfs", () => CreateVm(_fixture.Vm() with { Initramfs = _fixture.Folder })).Message);
        Assert.Single(CreateVm(_fixture.Vm() with { Initramfs = null }).Vms);
    }

    [Theory]
    [InlineData("01:00:00:00:00:01", "multicast")]
    [InlineData("ff:ff:ff:ff:ff:ff", "multicast")]
    [InlineData("00:00:00:00:00:00", "00:00:00:00:00:00")]
    [InlineData("02:00:00:00:00", "not a MAC")]
    [InlineData("02-00-00-00-00-01", "not a MAC")]
    public void A_nic_mac_must_be_unicast_and_not_zero(string mac, string why) =>
        Assert.Contains(why, Refused(HttpStatusCode.BadRequest, "nics[0].mac", () => CreateVm(_fixture.Vm(mac: mac))).Message);

    [Fact]
    public void Macs_are_stored_in_lower_case_and_compared_so()
    {
        DesiredState state = CreateVm(_fixture.Vm(mac: "02:00:00:00:00:AB"));
        Assert.Equal("02:00:00:00:00:ab", state.Vms[0].Nics![0].Mac);
        Refused(HttpStatusCode.Conflict, "nics[0].mac", () => CreateVm(_fixture.Vm("web-2", mac: "02:00:00:00:00:ab", ip: "10.0.0.2"), state));
    }

    [Fact]
    public void A_mac_or_address_another_vm_of_the_tenant_holds_is_a_conflict_naming_that_vm()
    {
        DesiredState state = CreateVm(_fixture.Vm());
        Assert.Contains("'web-1'", Refused(HttpStatusCode.Conflict, "nics[0].mac",
            () => CreateVm(_fixture.Vm("web-2", ip: "10.0.0.2"), state)).Message);
        Vm second = _fixture.Vm("web-2", mac: "02:00:00:00:00:02") with
        {
            Nics = [new Nic("02:00:00:00:00:02", ["10.0.0.2"]), new Nic("02:00:00:00:00:03", ["10.0.0.3", "10.0.0.1"])],
        };
        Assert.Contains("'web-1'", Refused(HttpStatusCode.Conflict, "nics[1].ipv4[1]", () => CreateVm(second, state)).Message);
    }

    [Fact]
    public void Another_tenant_may_use_the_same_mac_and_address()
    {
        DesiredState state = CreateVm(_fixture.Vm());
        state = TenantRules.Create(new Tenant("red", 200), state).After;
        Assert.Equal(2, CreateVm(_fixture.Vm("db-1", tenant: "red"), state).Vms.Count);
    }

    [Fact]
    public void A_mac_or_address_twice_within_the_vm_is_refused()
    {
        Vm vm = _fixture.Vm() with { Nics = [new Nic("02:00:00:00:00:01", ["10.0.0.1"]), new Nic("02:00:00:00:00:01", ["10.0.0.2"])] };
        Assert.Contains("nics[0].mac", Refused(HttpStatusCode.BadRequest, "nics[1].mac", () => CreateVm(vm)).Message);
        vm = _fixture.Vm() with { Nics = [new Nic("02:00:00:00:00:01", ["10.0.0.1", "10.0.0.1"])] };
        Refused(HttpStatusCode.BadRequest, "nics[0].ipv4[1]", () => CreateVm(vm));
    }

    [Theory]
    [InlineData("10.0.0.256")]
    [InlineData("10.0.0")]
    [InlineData("fe80::1")]
    public void A_nic_address_must_parse_as_ipv4(string ip) =>
        Refused(HttpStatusCode.BadRequest, "nics[0].ipv4[0]", () => CreateVm(_fixture.Vm(ip: ip)));

    [Theory]
    [InlineData(0)]
    [InlineData(33)]
    public void A_prefix_out_of_1_to_32_is_refused(int prefix) =>
        Refused(HttpStatusCode.BadRequest, "nics[0].prefix", () => CreateVm(_fixture.Vm() with { Nics = [new Nic("02:00:00:00:00:01", ["10.0.0.1"], prefix)] }));

    [Fact]
    public void Volumes_must_exist_be_free_and_be_listed_once()
    {
        Refused(HttpStatusCode.NotFound, "volumes[1]", () => CreateVm(_fixture.Vm(volumes: ["disk-a", "disk-z"])));
        Refused(HttpStatusCode.BadRequest, "volumes[1]", () => CreateVm(_fixture.Vm(volumes: ["disk-a", "disk-a"])));
        DesiredState state = CreateVm(_fixture.Vm(volumes: ["disk-a"]));
        Assert.Contains("'web-1'", Refused(HttpStatusCode.Conflict, "volumes[0]",
            () => CreateVm(_fixture.Vm("web-2", mac: "02:00:00:00:00:02", ip: "10.0.0.2", volumes: ["disk-a"]), state)).Message);
    }

    [Fact]
    public void A_vm_create_attaches_its_volumes_and_its_delete_frees_them()
    {
        DesiredState state = CreateVm(_fixture.Vm(volumes: ["disk-b", "disk-a"]));
        Assert.All(state.Volumes, v => Assert.Equal("web-1", v.Vm));
        Assert.Equal(["disk-b", "disk-a"], state.Vms[0].Volumes!);
        Assert.All(VmRules.Delete("web-1", state).Volumes, v => Assert.Null(v.Vm));
        Refused(HttpStatusCode.NotFound, "name", () => VmRules.Delete("web-9", state));
    }

    [Theory]
    [InlineData(0, null, "cpu_weight")]
    [InlineData(10_001, null, "cpu_weight")]
    [InlineData(100, 0, "cpu_max_percent")]
    [InlineData(100, 201, "cpu_max_percent")]
    public void Cpu_weight_and_cap_out_of_range_are_refused(int weight, int? maxPercent, string field)
    {
        Refused(HttpStatusCode.BadRequest, field, () => CreateVm(_fixture.Vm() with { CpuWeight = weight, CpuMaxPercent = maxPercent }));
        Refused(HttpStatusCode.BadRequest, field, () => VmRules.SetCpu("web-1", new VmCpu(weight, maxPercent), CreateVm(_fixture.Vm())));
    }

    [Fact]
    public void A_running_vms_cpu_is_replaced_whole_and_nothing_else_of_it()
    {
        DesiredState state = CreateVm(_fixture.Vm() with { CpuWeight = 300, CpuMaxPercent = 50 });
        (DesiredState after, Vm stored) = VmRules.SetCpu("web-1", new VmCpu(CpuWeight: 200), state);
        Assert.Equal(state.Vms[0] with { CpuWeight = 200, CpuMaxPercent = null }, stored);
        Assert.Equal([stored], after.Vms);
        Assert.Same(state.Volumes, after.Volumes);
        Refused(HttpStatusCode.NotFound, "name", () => VmRules.SetCpu("web-9", new VmCpu(), state));
        Refused(HttpStatusCode.BadRequest, "body", () => VmRules.SetCpu("web-1", null, state));
    }

    [Fact]
    public void A_vms_power_state_is_one_of_three_and_a_stopped_vm_cannot_be_paused()
    {
        DesiredState state = CreateVm(_fixture.Vm());
        Assert.Equal(PowerStates.Running, state.Vms[0].Power);
        Refused(HttpStatusCode.BadRequest, "power", () => CreateVm(_fixture.Vm() with { Power = "off" }));
        Refused(HttpStatusCode.BadRequest, "power", () => CreateVm(_fixture.Vm() with { Power = null! }));
        Refused(HttpStatusCode.BadRequest, "state", () => VmRules.SetPower("web-1", new VmPower("suspended"), state));
        Refused(HttpStatusCode.BadRequest, "body", () => VmRules.SetPower("web-1", null, state));
        Refused(HttpStatusCode.NotFound, "name", () => VmRules.SetPower("web-9", new VmPower(PowerStates.Stopped), state));

        (DesiredState stopped, Vm stored) = VmRules.SetPower("web-1", new VmPower(PowerStates.Stopped), state);
        Assert.Equal(state.Vms[0] with { Power = PowerStates.Stopped }, stored);
        Assert.Same(state.Volumes, stopped.Volumes);
        Assert.Contains("start it", Refused(HttpStatusCode.Conflict, "state", () => VmRules.SetPower("web-1", new VmPower(PowerStates.Paused), stopped)).Message);
        (DesiredState paused, _) = VmRules.SetPower("web-1", new VmPower(PowerStates.Paused), VmRules.SetPower("web-1", new VmPower(PowerStates.Running), stopped).After);
        Assert.Equal(PowerStates.Paused, paused.Vms[0].Power);
        // The state it already has: nothing to write.
        Assert.Same(paused, VmRules.SetPower("web-1", new VmPower(PowerStates.Paused), paused).After);
        Assert.Equal(PowerStates.Stopped, CreateVm(_fixture.Vm() with { Power = PowerStates.Stopped }).Vms[0].Power);
    }

    [Fact]
    public void A_cap_of_every_vcpu_whole_passes() =>
        Assert.Equal(200, CreateVm(_fixture.Vm() with { CpuWeight = 10_000, CpuMaxPercent = 200 }).Vms[0].CpuMaxPercent);

    [Fact]
    public void Memory_is_never_overcommitted_and_the_refusal_says_what_is_left()
    {
        HostResources host = Host with { MemoryMib = 1536 };
        DesiredState state = CreateVm(_fixture.Vm(), host: host);
        Refusal refusal = Refused(HttpStatusCode.Conflict, "memory_mib",
            () => CreateVm(_fixture.Vm("web-2", mac: "02:00:00:00:00:02", ip: "10.0.0.2"), state, host));
        Assert.Contains("512 MiB left", refusal.Message);
        Assert.Equal(2, CreateVm(_fixture.Vm("web-2", mac: "02:00:00:00:00:02", ip: "10.0.0.2") with { MemoryMib = 512 }, state, host).Vms.Count);
    }

    [Fact]
    public void Vcpus_are_limited_to_cpus_times_the_overcommit()
    {
        HostResources host = new(Cpus: 1, MemoryMib: 1 << 20, VcpuOvercommit: 2.5);
        Assert.Equal(2, host.VcpuLimit);
        DesiredState state = CreateVm(_fixture.Vm() with { Vcpus = 2 }, host: host);
        Assert.Contains("0 left of 2", Refused(HttpStatusCode.Conflict, "vcpus",
            () => CreateVm(_fixture.Vm("web-2", mac: "02:00:00:00:00:02", ip: "10.0.0.2") with { Vcpus = 1 }, state, host)).Message);
        Assert.Equal(new Capacity(1, 1 << 20, 2.5, 2, 1024), host.Usage(state));
    }

    private static DesiredState CreateRemoteVm(RemoteVm vm, DesiredState? state = null) => RemoteVmRules.Create(vm, state ?? Seeded()).After;

    [Fact]
    public void A_remote_vm_is_stored_with_its_mac_in_lower_case_and_no_address_list_null()
    {
        RemoteVm stored = RemoteVmRules.Create(RemoteVm(mac: "02:00:00:00:00:AB"), Seeded()).Stored;
        Assert.Equal(("db-1", "blue", "east", "02:00:00:00:00:ab"), (stored.Name, stored.Tenant, stored.Host, stored.Mac));
        Assert.Equal(["10.0.0.11"], stored.Ipv4!);
        Assert.Empty(RemoteVmRules.Create(RemoteVm() with { Ipv4 = null }, Seeded()).Stored.Ipv4!);
    }

    [Theory]
    [InlineData("tenant")]
    [InlineData("host")]
    [InlineData("mac")]
    public void A_remote_vms_tenant_host_and_mac_are_required(string field) =>
        Refused(HttpStatusCode.BadRequest, field, () => CreateRemoteVm(field switch
        {
            "tenant" => RemoteVm() with { Tenant = null! },
            "host" => RemoteVm() with { Host = null! },
            _ => RemoteVm() with { Mac = null! },
        }));

    [Theory]
    [InlineData("01:00:00:00:00:01", "10.0.0.11", "mac")]
    [InlineData("02:00:00:00:00", "10.0.0.11", "mac")]
    [InlineData("02:00:00:00:00:11", "10.0.0.256", "ipv4[0]")]
    [InlineData("02:00:00:00:00:11", "224.0.0.1", "ipv4[0]")]
    public void A_remote_vms_mac_and_addresses_are_checked_as_a_nics(string mac, string ip, string field) =>
        Refused(HttpStatusCode.BadRequest, field, () => CreateRemoteVm(RemoteVm(mac: mac, ipv4: ip)));

    [Fact]
    public void An_address_twice_within_the_remote_vm_is_refused() =>
        Assert.Contains("ipv4[0]", Refused(HttpStatusCode.BadRequest, "ipv4[1]", () => CreateRemoteVm(RemoteVm(ipv4: ["10.0.0.11", "10.0.0.11"]))).Message);

    [Fact]
    public void A_remote_vm_of_a_missing_tenant_or_host_is_not_found()
    {
        Assert.Contains("'green'", Refused(HttpStatusCode.NotFound, "tenant", () => CreateRemoteVm(RemoteVm(tenant: "green"))).Message);
        Assert.Contains("'west'", Refused(HttpStatusCode.NotFound, "host", () => CreateRemoteVm(RemoteVm(host: "west"))).Message);
    }

    [Fact]
    public void A_mac_or_address_a_vm_of_the_tenant_holds_here_is_a_conflict_for_a_remote_vm_naming_that_vm()
    {
        DesiredState state = CreateVm(_fixture.Vm());
        Assert.Contains("VM 'web-1'", Refused(HttpStatusCode.Conflict, "mac", () => CreateRemoteVm(RemoteVm(mac: "02:00:00:00:00:01"), state)).Message);
        Assert.Contains("VM 'web-1'", Refused(HttpStatusCode.Conflict, "ipv4[1]", () => CreateRemoteVm(RemoteVm(ipv4: ["10.0.0.11", "10.0.0.1"]), state)).Message);
    }

    [Fact]
    public void A_mac_or_address_another_remote_vm_of_the_tenant_holds_is_a_conflict_naming_it()
    {
        DesiredState state = CreateRemoteVm(RemoteVm());
        Assert.Contains("remote VM 'db-1'", Refused(HttpStatusCode.Conflict, "mac", () => CreateRemoteVm(RemoteVm("db-2", ipv4: "10.0.0.12"), state)).Message);
        Assert.Contains("remote VM 'db-1'", Refused(HttpStatusCode.Conflict, "ipv4[0]", () => CreateRemoteVm(RemoteVm("db-2", mac: "02:00:00:00:00:12"), state)).Message);
    }

    [Fact]
    public void A_vm_may_not_take_a_mac_or_address_a_remote_vm_of_its_tenant_holds()
    {
        DesiredState state = CreateRemoteVm(RemoteVm(mac: "02:00:00:00:00:01", ipv4: "10.0.0.11"));
        Assert.Contains("remote VM 'db-1' of tenant 'blue'", Refused(HttpStatusCode.Conflict, "nics[0].mac", () => CreateVm(_fixture.Vm(), state)).Message);
        Assert.Contains("remote VM 'db-1'", Refused(HttpStatusCode.Conflict, "nics[0].ipv4[0]", () => CreateVm(_fixture.Vm(mac: "02:00:00:00:00:02", ip: "10.0.0.11"), state)).Message);
    }

    [Fact]
    public void Another_tenant_may_use_a_remote_vms_mac_and_address()
    {
        DesiredState state = TenantRules.Create(new Tenant("red", 200), CreateRemoteVm(RemoteVm())).After;
        Assert.Equal(2, CreateRemoteVm(RemoteVm("db-2", tenant: "red"), state).RemoteVms.Count);
        Assert.Single(CreateVm(_fixture.Vm(tenant: "red", mac: "02:00:00:00:00:11", ip: "10.0.0.11"), state).Vms);
    }

    [Fact]
    public void A_vm_and_a_remote_vm_may_not_share_a_name()
    {
        DesiredState state = CreateVm(_fixture.Vm());
        Assert.Contains("VM named 'web-1'", Refused(HttpStatusCode.Conflict, "name", () => CreateRemoteVm(RemoteVm("web-1"), state)).Message);
        state = CreateRemoteVm(RemoteVm());
        Assert.Contains("remote VM named 'db-1'", Refused(HttpStatusCode.Conflict, "name", () => CreateVm(_fixture.Vm("db-1"), state)).Message);
    }

    [Fact]
    public void A_tenant_or_remote_host_with_remote_vms_cannot_be_deleted_until_they_are()
    {
        DesiredState state = CreateRemoteVm(RemoteVm("db-2", mac: "02:00:00:00:00:12", ipv4: "10.0.0.12"), CreateRemoteVm(RemoteVm()));
        Assert.Contains("2 remote VM(s): db-1, db-2", Refused(HttpStatusCode.Conflict, "name", () => TenantRules.Delete("blue", state)).Message);
        Assert.Contains("remote host 'east' still has 2 remote VM(s): db-1, db-2", Refused(HttpStatusCode.Conflict, "name", () => RemoteHostRules.Delete("east", state)).Message);
        state = RemoteVmRules.Delete("db-2", RemoteVmRules.Delete("db-1", state));
        Assert.Empty(RemoteHostRules.Delete("east", TenantRules.Delete("blue", state)).Hosts);
        Refused(HttpStatusCode.NotFound, "name", () => RemoteVmRules.Delete("db-1", state));
    }

    public void Dispose() => _fixture.Dispose();
}
