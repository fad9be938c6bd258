// The names and paths the daemons know the agent's resources by (PlanNames, RuntimePaths), and
// the host settings every plan checks first.
using VSwitch.Control.Agent.Plan;
using Xunit;
using static VSwitch.Tests.Unit.Control.Agent.Plan.PlanFixture;

namespace VSwitch.Tests.Unit.Control.Agent.Plan;

public sealed class PlanNamesTests
{
    [Fact]
    public void A_name_that_fits_is_kept_and_a_nic_is_its_vm_and_index()
    {
        Assert.Equal("red", PlanNames.Daemon("red"));
        Assert.Equal("web-1.nic0", PlanNames.Nic("web-1", 0));
        Assert.Equal("web-1.nic10", PlanNames.Nic("web-1", 10));
        Assert.Equal("disk-a", PlanNames.PoolVolume("disk-a"));
        string longest = new('a', PlanNames.MaxDaemonName);
        Assert.Equal(longest, PlanNames.Daemon(longest));
    }

    [Fact]
    public void A_long_name_is_cut_and_given_a_hash_of_the_whole_that_never_changes()
    {
        // Pinned (the first 10 hex digits of SHA-256 of the name, from Python's hashlib): a pool
        // attachment or socket named by one agent version must be found by the next.
        string name = LongName("web-");
        Assert.Equal("web-xxxxxxxxxxxxxxxxx_a73dce24c0", PlanNames.Daemon(name));
        Assert.Equal(PlanNames.MaxDaemonName, PlanNames.Daemon(name).Length);
        Assert.Equal(PlanNames.MaxVolumeName, PlanNames.PoolVolume(name).Length);
        Assert.Equal(PlanNames.MaxDaemonName, PlanNames.Nic(name, 7).Length);
        Assert.EndsWith(".nic7", PlanNames.Nic(name, 7));
    }

    [Fact]
    public void Long_names_that_differ_only_past_the_cut_stay_distinct()
    {
        string a = LongName("web-"), b = a[..^1] + "y";
        Assert.NotEqual(PlanNames.Daemon(a), PlanNames.Daemon(b));
        Assert.NotEqual(PlanNames.Nic(a, 0), PlanNames.Nic(b, 0));
        Assert.NotEqual(PlanNames.PoolVolume(a), PlanNames.PoolVolume(b));
    }

    [Theory]
    [InlineData("db")]
    [InlineData("web-1")]
    [InlineData("web-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
    public void A_remote_vms_name_is_never_a_nics_whatever_the_vms_name(string name)
    {
        // vswitchd refuses a remote VM named as a local VM: every local VM of the agent is a NIC.
        Assert.DoesNotContain('.', PlanNames.RemoteVm(name));
        Assert.Contains(".nic", PlanNames.Nic(name, 0));
        Assert.InRange(PlanNames.RemoteVm(name).Length, 1, PlanNames.MaxDaemonName);
        Assert.Equal(PlanNames.Daemon(name), PlanNames.RemoteVm(name));
    }

    [Fact]
    public void Every_path_is_under_the_runtime_directory()
    {
        RuntimePaths paths = new HostSettings(Runtime).Paths;
        Assert.Equal(
            ["/run/vswitch/vswitchd.yaml", "/run/vswitch/vswitchd.sock", "/run/vswitch/vhost", "/run/vswitch/vhost/web.nic1.sock",
             "/run/vswitch/vmm/web.json", "/run/vswitch/vmm/web.sock"],
            [paths.VswitchdConfig, paths.ControlSocket, paths.VhostDirectory, paths.NicSocket("web", 1), paths.VmmSpec("web"), paths.ApiSocket("web")]);
    }

    [Fact]
    public void The_longest_runtime_directory_leaves_every_socket_within_sun_path()
    {
        string root = "/" + new string('r', RuntimePaths.MaxRootLength - 1);
        var host = new HostSettings(root);
        host.Check();
        string vm = LongName("web-");
        Assert.Equal(RuntimePaths.MaxSocketPath, host.Paths.NicSocket(vm, 7).Length);
        Assert.True(host.Paths.ApiSocket(vm).Length <= RuntimePaths.MaxSocketPath);
        Assert.True(host.Paths.ControlSocket.Length <= RuntimePaths.MaxSocketPath);
        Refused("runtime_dir", () => new HostSettings(root + "r").Check());
    }

    [Theory]
    [InlineData("run/vswitch", null, null, "runtime_dir")]
    [InlineData(Runtime, "", "192.168.50.1/24", "vswitchd.uplink.devargs")]
    [InlineData(Runtime, "net_null0", "", "vswitchd.uplink.vtep")]
    public void A_setting_no_daemon_can_run_with_is_refused_by_both_plans_naming_it(string runtime, string? devargs, string? vtep, string field)
    {
        var host = new HostSettings(runtime)
        {
            Vswitchd = new VswitchdSettings(Uplink: devargs is null ? null : new UplinkSettings(devargs, vtep!)),
        };
        Refused(field, () => VswitchdPlan.Compile(State, host));
        Refused(field, () => VmmPlan.Compile(BlueWeb, State, host));
    }

    [Fact]
    public void A_relative_volume_pool_is_refused() =>
        Refused("vmm.volume_pool", () => VmmPlan.Compile(RedWeb, State, Alone with { Vmm = new VmmSettings("pool") }));

    private static void Refused(string field, Action action)
    {
        var refusal = Assert.Throws<PlanException>(action);
        Assert.Equal(field, refusal.Field);
        Assert.StartsWith($"{field}: ", refusal.Message);
    }
}
