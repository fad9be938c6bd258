// What the agent writes to a VM's cgroup v2 files (Reconcile/VmCgroups.cs): cpu.max from the
// VM's cap, CPU lists as the kernel reads and writes them, and which CPUs VMs get by default.
// The groups themselves are made on a real cgroup2 hierarchy in the KVM lane (AgentGuestTests).
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Api;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Reconcile;

public sealed class VmCgroupsTests
{
    [Theory]
    [InlineData(null, "max 100000")]
    [InlineData(20, "20000 100000")]
    [InlineData(1, "1000 100000")]
    [InlineData(250, "250000 100000")] // 2.5 CPUs of a VM with 3 vCPUs
    public void Cpu_max_is_the_cap_as_a_share_of_each_100_ms_period(int? percent, string expected) =>
        Assert.Equal(expected, VmCgroups.CpuMax(percent));

    [Theory]
    [InlineData(new[] { 0 }, "0")]
    [InlineData(new[] { 3, 0, 1, 2, 6 }, "0-3,6")]
    [InlineData(new[] { 1, 3, 5 }, "1,3,5")]
    [InlineData(new[] { 4, 5, 5 }, "4-5")]
    public void A_cpu_list_is_written_in_ranges_and_read_back(int[] cpus, string text)
    {
        Assert.Equal(text, VmCgroups.CpuList(cpus));
        Assert.Equal(cpus.Distinct().Order(), VmCgroups.ParseCpuList(text + "\n"));
    }

    [Fact]
    public void The_vms_group_weighs_what_its_running_vms_weigh_together()
    {
        static Vm Vm(int weight, string power = PowerStates.Running) => new("v", "red", 1, 256, "/k", CpuWeight: weight, Power: power);
        Assert.Equal(100, VmCgroups.GroupWeight([]));
        Assert.Equal(300, VmCgroups.GroupWeight([Vm(200), Vm(100), Vm(400, PowerStates.Stopped)]));
        Assert.Equal(150, VmCgroups.GroupWeight([Vm(50), Vm(100, PowerStates.Paused)]));
        Assert.Equal(100, VmCgroups.GroupWeight([Vm(300, PowerStates.Stopped)]));
        Assert.Equal(10_000, VmCgroups.GroupWeight([Vm(10_000), Vm(10_000)]));
    }

    [Theory]
    [InlineData("0-")]
    [InlineData("3-1")]
    [InlineData("a")]
    [InlineData("1-2-3")]
    [InlineData("-1")]
    public void A_malformed_cpu_list_is_refused(string text) =>
        Assert.ThrowsAny<FormatException>(() => VmCgroups.ParseCpuList(text));

    [Fact]
    public void Vms_get_every_online_cpu_but_the_workers_unless_chosen_or_none_would_be_left()
    {
        Assert.Equal([0, 2, 3], VmCgroups.VmCpus(null, [0, 1, 2, 3], [1]));
        // vswitchd's default worker, lcore 1, which the agent's plan must know as vswitchd does.
        Assert.Equal([0], VmCgroups.VmCpus(null, [0, 1], new VswitchdSettings().EffectiveWorkerCores));
        Assert.Equal(VSwitch.Dataplane.Config.DaemonConfig.DefaultWorkerCore, VswitchdSettings.DefaultWorkerCore);
        Assert.Equal([0], VmCgroups.VmCpus(null, [0], [0]));     // one CPU: shared
        Assert.Equal([5], VmCgroups.VmCpus([5], [0, 1, 2, 3, 4, 5], [1]));
    }

    [Fact]
    public void A_vms_group_is_its_vmm_name_under_the_root_and_none_without_one()
    {
        Assert.Equal("/sys/fs/cgroup/vswitch/web", new VmmSettings().CgroupOf("web"));
        Assert.Null(new VmmSettings(Cgroup: null).CgroupOf("web"));
        Assert.Equal($"/sys/fs/cgroup/vswitch/{PlanNames.Daemon(new string('w', 63))}", new VmmSettings().CgroupOf(new string('w', 63)));
    }
}
