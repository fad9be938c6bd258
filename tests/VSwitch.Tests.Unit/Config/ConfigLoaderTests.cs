using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;
using Xunit;
using static VSwitch.Tests.Unit.Config.ConfigFixture;

namespace VSwitch.Tests.Unit.Config;

public sealed class ConfigLoaderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("vswitch-config-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly DaemonConfig s_expected = new()
    {
        EalArgs = ["-l", "0-2", "--no-huge"],
        PmdDir = "/opt/dpdk/pmds",
        Mbufs = 4095,
        WorkerCores = [1, 2],
        IdleSleepMicroseconds = 50,
        ControlSocket = "/run/vsw.sock",
        Flows = new FlowSettings(true, 2048, 5, 8),
        MetricsListen = new ListenAddress("127.0.0.1", 9464),
        Spec = new SwitchSpec(
            [new TenantSpec("red"), new TenantSpec("blue")],
            [
                new PortSpec("vm-a", "net_null0", PortRole.Vm, 1500, 2),
                new PortSpec("vm-b", "net_null1,size=64", PortRole.Vm, 1500, 1),
                new PortSpec("vm-c", "net_null2", PortRole.Vm, 1500, 1),
                new PortSpec("up0", "net_null3", PortRole.Uplink, 1500, 1),
            ],
            [
                Vm("red-a", "red", "vm-a", "02:00:00:00:00:0a", ["10.0.0.1", "10.0.0.11"], ["fd00::1"]),
                Vm("red-b", "red", "vm-b", "02:00:00:00:00:0b", ["10.0.0.2"], ["fd00::2"]),
                Vm("blue-a", "blue", "vm-c", "02:00:00:00:00:0c", ["10.9.0.1"], ["fd09::1"]),
            ]),
    };

    private static VmSpec Vm(string name, string tenant, string port, string mac, string[] ipv4, string[] ipv6)
    {
        Assert.True(MacAddress.TryParse(mac, out ulong parsed));
        return new VmSpec(name, tenant, port, parsed, [.. ipv4.Select(Ipv4.ParseAddress)], [.. ipv6.Select(Ipv6.ParseAddress)]);
    }

    [Theory]
    [InlineData(ConfigFormat.Yaml, Yaml)]
    [InlineData(ConfigFormat.Json, Json)]
    public void Valid_text_loads_to_the_expected_config(ConfigFormat format, string text) =>
        Assert.Equivalent(s_expected, ConfigLoader.Parse(text, format), strict: true);

    [Theory]
    [InlineData("vswitchd.yaml", Yaml)]
    [InlineData("vswitchd.yml", Yaml)]
    [InlineData("vswitchd.YAML", Yaml)]
    [InlineData("vswitchd.json", Json)]
    public void Valid_file_loads_by_its_extension(string fileName, string text)
    {
        string path = Path.Combine(_directory, fileName);
        File.WriteAllText(path, text);
        Assert.Equivalent(s_expected, ConfigLoader.Load(path), strict: true);
    }

    [Theory]
    [InlineData(ConfigFormat.Yaml, "dpdk:\n  eal_args: []\n")]
    [InlineData(ConfigFormat.Json, """{ "dpdk": { "eal_args": [] }, "workers": {}, "ports": [], "tenants": [] }""")]
    // A key without a value is "not given", like a missing key.
    [InlineData(ConfigFormat.Yaml, "dpdk:\n  eal_args: []\n  pmd_dir:\n  mbufs: ~\nworkers:\ncontrol_socket: null\nports:\ntenants:\n")]
    [InlineData(ConfigFormat.Json, """{ "dpdk": { "eal_args": [], "pmd_dir": null }, "control_socket": null, "ports": null }""")]
    public void Optional_fields_take_their_defaults(ConfigFormat format, string text)
    {
        DaemonConfig config = ConfigLoader.Parse(text, format);
        Assert.Equivalent(new DaemonConfig { EalArgs = [], Spec = SwitchSpec.Empty }, config, strict: true);
        Assert.Equal("/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0", config.PmdDir);
        Assert.Equal(8191, config.Mbufs);
        Assert.Equal([1], config.WorkerCores);
        Assert.Equal(0, config.IdleSleepMicroseconds);
        Assert.Null(config.ControlSocket);
        Assert.Equal(new FlowSettings(false, 4096, 10, 1), config.Flows);
        Assert.Null(config.MetricsListen);
    }

    [Fact]
    public void Port_fields_take_their_defaults()
    {
        PortSpec port = ConfigLoader.Parse("dpdk: {eal_args: []}\nports:\n  - {name: p0, devargs: net_null0}\n", ConfigFormat.Yaml).Spec.Ports.Single();
        Assert.Equal(new PortSpec("p0", "net_null0", PortRole.Vm, 1500, 1), port);
    }

    [Fact]
    public void A_tenant_needs_no_vms() =>
        Assert.Equal([new TenantSpec("red")], ConfigLoader.Parse("dpdk: {eal_args: []}\ntenants:\n  - name: red\n", ConfigFormat.Yaml).Spec.Tenants);

    [Fact]
    public void The_documented_sample_loads_and_compiles()
    {
        DaemonConfig config = ConfigLoader.Load(Repository.PathOf("docs", "examples", "vswitchd.yaml"));

        Assert.Equal(["red", "blue"], config.Spec.Tenants.Select(t => t.Name));
        Assert.Equal(2, config.Spec.Vms.Count(vm => vm.Tenant == "red"));
        Assert.Equal(2, config.Spec.Vms.Count(vm => vm.Tenant == "blue"));
        Assert.All(config.Spec.Ports, port => Assert.StartsWith("net_null", port.DeviceName));
        // The tenants overlap: red-a and blue-a have the same MAC and addresses.
        VmSpec redA = config.Spec.Vms.Single(vm => vm.Name == "red-a"), blueA = config.Spec.Vms.Single(vm => vm.Name == "blue-a");
        Assert.Equal(redA.Mac, blueA.Mac);
        Assert.Equal(redA.Ipv4, blueA.Ipv4);
        Assert.Equal(redA.Ipv6, blueA.Ipv6);

        // What the loader passes must compile, and the overlap must stay apart: each tenant's
        // lookup of the shared MAC finds its own VM.
        var portIds = config.Spec.Ports.Select((port, i) => (port.Name, Id: (ushort)i)).ToDictionary(p => p.Name, p => p.Id);
        SwitchTables tables = SwitchTables.Build(config.Spec, portIds, config.WorkerCores.Count);
        Assert.True(tables.MacTable.TryGetValue(SwitchTables.MacKey(0, redA.Mac), out PortBinding? red));
        Assert.True(tables.MacTable.TryGetValue(SwitchTables.MacKey(1, blueA.Mac), out PortBinding? blue));
        Assert.Equal(("red-a", "blue-a"), (red!.VmName, blue!.VmName));
    }

    [Fact]
    public void Errors_from_a_file_start_with_its_path()
    {
        string path = Path.Combine(_directory, "vswitchd.yaml");
        File.WriteAllText(path, Yaml.With("02:00:00:00:00:0b", "02:00:00:00:00:0g").With("mtu: 1500", "mtu: 67"));

        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));

        Assert.Equal(path, e.FilePath);
        Assert.Equal(
            $"{path}: ports[0].mtu: 67 is out of range (68..2034)\n"
            + $"{path}: tenants[0].vms[1].mac: '02:00:00:00:00:0g' is not a MAC address (six hex octets such as 02:00:00:00:00:01)",
            e.Message);
        Assert.Equal(2, e.Errors.Count);
    }

    [Fact]
    public void Errors_from_text_have_no_path_prefix()
    {
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Yaml.With("mtu: 1500", "mtu: 67"), ConfigFormat.Yaml));
        Assert.Null(e.FilePath);
        Assert.Equal("ports[0].mtu: 67 is out of range (68..2034)", e.Message);
    }

    [Theory]
    [InlineData("vswitchd.conf")]
    [InlineData("vswitchd.toml")]
    [InlineData("vswitchd")]
    public void Other_extensions_are_refused(string fileName)
    {
        string path = Path.Combine(_directory, fileName);
        File.WriteAllText(path, Yaml);
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Equal($"{path}: cannot tell the format from the file name; use .yaml, .yml or .json", e.Message);
    }

    [Fact]
    public void A_missing_file_is_a_config_error()
    {
        string path = Path.Combine(_directory, "absent.yaml");
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.StartsWith($"{path}: cannot read the file: ", e.Message);
        Assert.IsType<FileNotFoundException>(e.InnerException);
    }
}
