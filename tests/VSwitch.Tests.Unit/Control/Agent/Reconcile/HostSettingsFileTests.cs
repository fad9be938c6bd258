// `vswitch-agent run --host-settings FILE` (Reconcile/HostSettingsFile.cs): the file's fields, its
// defaults, and that every error names the field as the file spells it.
using VSwitch.Control.Agent.Reconcile;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Reconcile;

public sealed class HostSettingsFileTests
{
    private const string Minimal = """{"runtime_dir": "/run/vswitch", "vswitchd_binary": "/usr/bin/vswitchd", "vswitchd": {"eal_args": ["--no-huge"]}}""";

    [Fact]
    public void A_minimal_file_takes_the_defaults_under_the_runtime_directory()
    {
        ReconcileSettings settings = HostSettingsFile.Parse(Minimal);
        Assert.Equal("/run/vswitch", settings.Host.RuntimeDirectory);
        Assert.Equal(["--no-huge"], settings.Host.Vswitchd.EalArgs);
        Assert.Null(settings.Host.Vswitchd.Uplink);
        Assert.Equal("/usr/bin/vswitchd", settings.VswitchdBinary);
        Assert.Equal("/run/vswitch/log", settings.LogDirectory);
        Assert.Equal("/run/vswitch/supervisor", settings.SupervisorDirectory);
        Assert.Null(settings.VmmBinary);
        Assert.Equal("/sys/fs/cgroup/vswitch", settings.Host.Vmm.Cgroup);
    }

    [Fact]
    public void Every_field_is_read_in_snake_case()
    {
        ReconcileSettings settings = HostSettingsFile.Parse("""
            {
              "runtime_dir": "/run/vsw", "vswitchd_binary": "/opt/vswitchd", "vmm_binary": "/opt/vmm", "log_dir": "/var/log/vsw", "supervisor_dir": "/run/vsw-sup",
              "vswitchd": {
                "eal_args": ["-l", "0,1"], "worker_cores": [1], "mbufs": 4096, "pmd_dir": "/usr/lib/dpdk", "control_group": "vswitch",
                "nic_mtu": 1400, "idle_sleep_us": 200,
                "uplink": {"devargs": "net_af_packet0,iface=eth1", "vtep": "192.168.50.1/24", "mac": "02:aa:00:00:00:01",
                           "gateway": "192.168.50.254", "static_neighbours": [{"ip": "192.168.50.254", "mac": "02:bb:00:00:00:01"}], "mtu": 1500}
              },
              "vmm": {"volume_pool": "/var/lib/vswitch/pool", "cgroup": null, "cpus": [0, 2]}
            }
            """);
        Assert.Equal("/opt/vmm", settings.VmmBinary);
        Assert.Equal("/var/log/vsw", settings.LogDirectory);
        Assert.Equal("/run/vsw-sup", settings.SupervisorDirectory);
        Assert.Equal([1], settings.Host.Vswitchd.WorkerCores);
        Assert.Equal(200, settings.Host.Vswitchd.IdleSleepUs);
        Assert.Equal(1400, settings.Host.NicMtu);
        Assert.Equal("192.168.50.254", settings.Host.Vswitchd.Uplink!.StaticNeighbours![0].Ip);
        Assert.Equal("/var/lib/vswitch/pool", settings.Host.Vmm.VolumePool);
        Assert.Null(settings.Host.Vmm.Cgroup);
        Assert.Equal([0, 2], settings.Host.Vmm.Cpus);
    }

    [Theory]
    [InlineData("""{"vswitchd_binary": "/usr/bin/vswitchd"}""", "runtime_dir: is required")]
    [InlineData("""{"runtime_dir": "/run/vswitch"}""", "vswitchd_binary: is required")]
    [InlineData("""{"runtime_dir": "run", "vswitchd_binary": "/usr/bin/vswitchd"}""", "runtime_dir: 'run' is not an absolute path")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": "vswitchd"}""", "vswitchd_binary: 'vswitchd' is not an absolute path")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": "/v", "log_dir": "log"}""", "log_dir: 'log' is not an absolute path")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": "/v", "vmm_binary": "vmm"}""", "vmm_binary: 'vmm' is not an absolute path")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": "/v", "vmm_binary": ""}""", "vmm_binary: must be a non-empty string")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": 7}""", "vswitchd_binary: must be a non-empty string")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": "/v", "colour": 1}""", "colour: unknown field")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": "/v", "vswitchd": {"cores": [1]}}""", "vswitchd.cores: unknown field")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": "/v", "vswitchd": {"mbufs": "many"}}""", "vswitchd.mbufs: malformed")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": "/v", "vswitchd": {"uplink": {"devargs": "net_null0"}}}""", "vswitchd.uplink.vtep: is required")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": "/v", "vmm": {"cgroup": "vswitch"}}""", "vmm.cgroup: 'vswitch' is not an absolute path")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": "/v", "vmm": {"cpus": []}}""", "vmm.cpus: must list distinct host CPU numbers")]
    [InlineData("""{"runtime_dir": "/run/vswitch", "vswitchd_binary": "/v", "vmm": {"cpus": [1, 1]}}""", "vmm.cpus: must list distinct host CPU numbers")]
    [InlineData("""[1]""", "file: must hold one JSON object")]
    [InlineData("""{"runtime_dir": """, "file: malformed")]
    public void Each_error_names_its_field(string text, string expected)
    {
        var e = Assert.Throws<HostSettingsException>(() => HostSettingsFile.Parse(text));
        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void A_missing_file_is_an_error_of_the_file()
    {
        var e = Assert.Throws<HostSettingsException>(() => HostSettingsFile.Load("/nonexistent/host.json"));
        Assert.Equal("file", e.Field);
    }
}
