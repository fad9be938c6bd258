using VSwitch.Dataplane.Config;
using Xunit;
using static VSwitch.Tests.Unit.Config.ConfigFixture;

namespace VSwitch.Tests.Unit.Config;

/// <summary>
/// Every rule of the file format, each broken by one value of an otherwise valid file. The whole
/// error list is compared, so a row also proves that one bad value gives exactly one error.
/// </summary>
public class ConfigRuleTests
{
    private const string NameRule = "1 to 32 of a-z 0-9 _ . -, starting with a letter or digit";

    public static TheoryData<string, string, string> Daemon => new()
    {
        { "\"--no-huge\"]", "\"--no-huge\", \"--vdev=net_null9\"]",
            "dpdk.eal_args[3]: '--vdev=net_null9' is not allowed: vswitchd adds one --vdev per port, from ports[].devargs" },
        { "\"--no-huge\"]", "\"--vdev\", \"net_null9\"]",
            "dpdk.eal_args[2]: '--vdev' is not allowed: vswitchd adds one --vdev per port, from ports[].devargs" },
        // getopt_long takes an unambiguous prefix of a long option.
        { "\"--no-huge\"]", "\"--vde\", \"net_null9\"]",
            "dpdk.eal_args[2]: '--vde' is not allowed: vswitchd adds one --vdev per port, from ports[].devargs" },
        { "pmd_dir: /opt/dpdk/pmds", "pmd_dir: ''", "dpdk.pmd_dir: is empty; leave the field out instead" },
        { "mbufs: 4095", "mbufs: 1022", "dpdk.mbufs: 1022 is out of range (1023..1048575)" },
        { "mbufs: 4095", "mbufs: 1048576", "dpdk.mbufs: 1048576 is out of range (1023..1048575)" },
        { "cores: [1, 2]", "cores: [1, 1]", "workers.cores[1]: core 1 is already used by workers.cores[0]" },
        { "cores: [1, 2]", "cores: [1, 1024]", "workers.cores[1]: 1024 is out of range (0..1023)" },
        { "cores: [1, 2]", "cores: [-1]", "workers.cores[0]: -1 is out of range (0..1023)" },
        { "cores: [1, 2]", "cores: []", "workers.cores: lists 0 cores; 1..16 allowed" },
        { "cores: [1, 2]", $"cores: [{string.Join(", ", Enumerable.Range(1, 17))}]", "workers.cores: lists 17 cores; 1..16 allowed" },
        { "idle_sleep_us: 50", "idle_sleep_us: 100001", "workers.idle_sleep_us: 100001 is out of range (0..100000)" },
        { "idle_sleep_us: 50", "idle_sleep_us: -1", "workers.idle_sleep_us: -1 is out of range (0..100000)" },
        { "table_size: 2048", "table_size: 63", "flows.table_size: 63 is out of range (64..1048576)" },
        { "table_size: 2048", "table_size: 1048577", "flows.table_size: 1048577 is out of range (64..1048576)" },
        { "top: 5", "top: 0", "flows.top: 0 is out of range (1..1000)" },
        { "top: 5", "top: 1001", "flows.top: 1001 is out of range (1..1000)" },
        { "sample_rate: 8", "sample_rate: 0", "flows.sample_rate: 0 is out of range (1..65536)" },
        { "127.0.0.1:9464", "127.0.0.1", "metrics.listen: '127.0.0.1' is not an address and port such as 127.0.0.1:9464 or [::1]:9464" },
        { "127.0.0.1:9464", "127.0.0.1:0", "metrics.listen: '127.0.0.1:0' is not an address and port such as 127.0.0.1:9464 or [::1]:9464" },
        { "127.0.0.1:9464", "localhost:9464", "metrics.listen: 'localhost:9464' is not an address and port such as 127.0.0.1:9464 or [::1]:9464" },
        { "127.0.0.1:9464", "127.0.0.1:65536", "metrics.listen: '127.0.0.1:65536' is not an address and port such as 127.0.0.1:9464 or [::1]:9464" },
        { "sample_rate: 8", "sample_rate: 65537", "flows.sample_rate: 65537 is out of range (1..65536)" },
        { "control_socket: /run/vsw.sock", "control_socket: \"\"", "control_socket: is empty; leave the field out instead" },
        { "control_socket: /run/vsw.sock", $"control_socket: /run/{new string('s', 103)}",
            $"control_socket: '/run/{new string('s', 103)}' is 108 bytes long; a unix socket path holds at most 107" },
    };

    public static TheoryData<string, string, string> Ports => new()
    {
        { "name: up0", "name: UP0", $"ports[3].name: 'UP0' is not a valid name ({NameRule})" },
        { "name: up0", "name: -up0", $"ports[3].name: '-up0' is not a valid name ({NameRule})" },
        { "name: up0", $"name: u{new string('p', 32)}", $"ports[3].name: 'u{new string('p', 32)}' is not a valid name ({NameRule})" },
        { "name: up0", "name: \"up0\\n\"", $"ports[3].name: 'up0\n' is not a valid name ({NameRule})" },
        { "name: up0", "name: vm-a", "ports[3].name: 'vm-a' is already used by ports[0].name" },
        { "    devargs: net_null2\n", "", "ports[2].devargs: is required" },
        { "devargs: net_null2", "devargs: \"net_null0,size=128\"", "ports[2].devargs: device 'net_null0' is already used by ports[0].devargs" },
        { "devargs: net_null2", "devargs: \",size=1\"", "ports[2].devargs: ',size=1' has no device name before its first comma" },
        { "role: vm", "role: switch", "ports[1].role: 'switch' is not a port role (vm or uplink)" },
        { "role: vm", "role: VM", "ports[1].role: 'VM' is not a port role (vm or uplink)" },
        { "  - name: up0", "  - name: up1\n    devargs: net_null4\n    role: uplink\n  - name: up0",
            "ports[4].role: 'uplink' given twice; ports[3] is already the uplink" },
        { "mtu: 1500", "mtu: 67", "ports[0].mtu: 67 is out of range (68..2034)" },
        // Jumbo frames do not fit one mbuf (2048 bytes of data room); the workers would drop each one as multi_segment.
        { "mtu: 1500", "mtu: 2035", "ports[0].mtu: 2035 makes frames of 2049 bytes (MTU + the 14-byte Ethernet header), " +
            "more than the 2048 bytes of one mbuf; at most 2034 (jumbo frames are not carried)" },
        { "mtu: 1500", "mtu: 9000", "ports[0].mtu: 9000 makes frames of 9014 bytes (MTU + the 14-byte Ethernet header), " +
            "more than the 2048 bytes of one mbuf; at most 2034 (jumbo frames are not carried)" },
        { "    role: uplink\n", "    role: uplink\n    mtu: 9000\n", "ports[3].mtu: 9000 makes frames of 9014 bytes (MTU + the 14-byte Ethernet header), " +
            "more than the 2048 bytes of one mbuf; at most 2034 (jumbo frames are not carried)" },
        { "queues: 2", "queues: 0", "ports[0].queues: 0 is out of range (1..8)" },
        { "queues: 2", "queues: 9", "ports[0].queues: 9 is out of range (1..8)" },
    };

    public static TheoryData<string, string, string> Tenants => new()
    {
        { "- name: red\n", "- name: Red\n", $"tenants[0].name: 'Red' is not a valid name ({NameRule})" },
        { "- name: blue\n", "- name: red\n", "tenants[1].name: 'red' is already used by tenants[0].name" },
        { "  - name: blue\n", "  - vms: []\n  - name: blue\n", "tenants[1].name: is required" },
    };

    public static TheoryData<string, string, string> Vms => new()
    {
        { "        port: vm-c\n", "        port: vm-c\n        flood_rate_pps: 0\n", "tenants[1].vms[0].flood_rate_pps: 0 is out of range (1..10000000)" },
        { "        port: vm-c\n", "        port: vm-c\n        flood_rate_pps: 10000001\n", "tenants[1].vms[0].flood_rate_pps: 10000001 is out of range (1..10000000)" },
        { "        port: vm-c\n", "        port: vm-c\n        flood_burst: 0\n", "tenants[1].vms[0].flood_burst: 0 is out of range (1..1000000)" },
        { "        port: vm-c\n", "        port: vm-c\n        flood_rate_pps: fast\n", "tenants[1].vms[0].flood_rate_pps: expected an integer, got 'fast'" },
        { "        port: vm-c\n", "        port: vm-c\n        allow_routing: yes\n", "tenants[1].vms[0].allow_routing: expected true or false, got 'yes'" },
        { "        port: vm-c\n", "        port: vm-c\n        allow_routing: 1\n", "tenants[1].vms[0].allow_routing: expected true or false, got '1'" },
        { "name: blue-a", "name: red-a", "tenants[1].vms[0].name: 'red-a' is already used by tenants[0].vms[0].name" },
        { "name: blue-a", "name: blue_A", $"tenants[1].vms[0].name: 'blue_A' is not a valid name ({NameRule})" },
        { "port: vm-c", "port: vm-z", "tenants[1].vms[0].port: 'vm-z' is not a configured port" },
        { "port: vm-c", "port: up0", "tenants[1].vms[0].port: 'up0' is the uplink; a VM needs a port with role vm" },
        { "port: vm-c", "port: vm-a", "tenants[1].vms[0].port: port 'vm-a' is already used by tenants[0].vms[0].port" },
        { "        port: vm-c\n", "", "tenants[1].vms[0].port: is required" },
        { "02:00:00:00:00:0b", "02:00:00:00:00:0g",
            "tenants[0].vms[1].mac: '02:00:00:00:00:0g' is not a MAC address (six hex octets such as 02:00:00:00:00:01)" },
        { "02:00:00:00:00:0b", "02:00:00:00:00", "tenants[0].vms[1].mac: '02:00:00:00:00' is not a MAC address (six hex octets such as 02:00:00:00:00:01)" },
        { "02:00:00:00:00:0b", "03:00:00:00:00:0b",
            "tenants[0].vms[1].mac: '03:00:00:00:00:0b' is a group (multicast or broadcast) address; the I/G bit, 0x01 of the first octet, must be clear" },
        { "02:00:00:00:00:0b", "ff:ff:ff:ff:ff:ff",
            "tenants[0].vms[1].mac: 'ff:ff:ff:ff:ff:ff' is a group (multicast or broadcast) address; the I/G bit, 0x01 of the first octet, must be clear" },
        { "02:00:00:00:00:0b", "00:00:00:00:00:00", "tenants[0].vms[1].mac: '00:00:00:00:00:00' is the all-zero address" },
        { "        mac: \"02:00:00:00:00:0b\"\n", "", "tenants[0].vms[1].mac: is required" },
        { "02:00:00:00:00:0b", "02:00:00:00:00:0a", "tenants[0].vms[1].mac: '02:00:00:00:00:0a' is already used by tenants[0].vms[0].mac" },
        { "02:00:00:00:00:0b", "02:00:00:00:00:0A", "tenants[0].vms[1].mac: '02:00:00:00:00:0a' is already used by tenants[0].vms[0].mac" },
    };

    public static TheoryData<string, string, string> Addresses => new()
    {
        { "\"10.0.0.2\"", "\"10.0.0.256\"", "tenants[0].vms[1].ipv4[0]: '10.0.0.256' is not an IPv4 address (four decimal octets such as 10.0.0.1)" },
        { "\"10.0.0.2\"", "\"010.0.0.2\"", "tenants[0].vms[1].ipv4[0]: '010.0.0.2' is not an IPv4 address (four decimal octets such as 10.0.0.1)" },
        { "\"10.0.0.2\"", "\"fd00::9\"", "tenants[0].vms[1].ipv4[0]: 'fd00::9' is not an IPv4 address (four decimal octets such as 10.0.0.1)" },
        { "\"10.0.0.2\"", "\"0.0.0.0\"", "tenants[0].vms[1].ipv4[0]: '0.0.0.0' is the unspecified address" },
        { "\"10.0.0.2\"", "\"255.255.255.255\"", "tenants[0].vms[1].ipv4[0]: '255.255.255.255' is the broadcast address" },
        { "\"10.0.0.2\"", "\"224.0.0.1\"", "tenants[0].vms[1].ipv4[0]: '224.0.0.1' is a multicast address (224.0.0.0/4)" },
        { "\"10.0.0.2\"", "\"239.255.255.250\"", "tenants[0].vms[1].ipv4[0]: '239.255.255.250' is a multicast address (224.0.0.0/4)" },
        { "\"10.0.0.2\"", "\"10.0.0.11\"", "tenants[0].vms[1].ipv4[0]: '10.0.0.11' is already used by tenants[0].vms[0].ipv4[1]" },
        { "\"10.0.0.1\", \"10.0.0.11\"", "\"10.0.0.1\", \"10.0.0.1\"", "tenants[0].vms[0].ipv4[1]: '10.0.0.1' is already used by tenants[0].vms[0].ipv4[0]" },
        { "\"fd00::2\"", "\"fd00::g\"", "tenants[0].vms[1].ipv6[0]: 'fd00::g' is not an IPv6 address (such as fd00::1)" },
        { "\"fd00::2\"", "\"fe80::2%eth0\"", "tenants[0].vms[1].ipv6[0]: 'fe80::2%eth0' is not an IPv6 address (such as fd00::1)" },
        { "\"fd00::2\"", "\"::\"", "tenants[0].vms[1].ipv6[0]: '::' is the unspecified address" },
        { "\"fd00::2\"", "\"ff02::1\"", "tenants[0].vms[1].ipv6[0]: 'ff02::1' is a multicast address (ff00::/8)" },
        { "\"fd00::2\"", "\"FD00::1\"", "tenants[0].vms[1].ipv6[0]: 'fd00::1' is already used by tenants[0].vms[0].ipv6[0]" },
        // red-a's MAC 02:00:00:00:00:0a gives it fe80::ff:fe00:a; red-b may not claim it.
        { "\"fd00::2\"", "\"fe80::ff:fe00:a\"",
            "tenants[0].vms[1].ipv6[0]: 'fe80::ff:fe00:a' is the link-local address of tenants[0].vms[0], derived from its MAC" },
    };

    [Theory]
    [MemberData(nameof(Daemon))]
    [MemberData(nameof(Ports))]
    [MemberData(nameof(Tenants))]
    [MemberData(nameof(Vms))]
    [MemberData(nameof(Addresses))]
    public void One_bad_value_gives_one_error_naming_field_and_value(string find, string replacement, string expected) =>
        Assert.Equal([expected], ErrorsOf(Yaml.With(find, replacement)));

    [Theory]
    // Tenants overlap: the same MAC and addresses in two tenants are fine.
    [InlineData("02:00:00:00:00:0c", "02:00:00:00:00:0a")]
    [InlineData("\"10.9.0.1\"", "\"10.0.0.1\"")]
    [InlineData("\"fd09::1\"", "\"fd00::1\"")]
    [InlineData("\"fd09::1\"", "\"fe80::ff:fe00:a\"")] // red-a's link-local, but blue-a is in another tenant
    // A VM may list its own link-local address.
    [InlineData("\"fd00::2\"", "\"fe80::ff:fe00:b\"")]
    // The same device driver with another instance number is another device.
    [InlineData("devargs: net_null2", "devargs: net_null20")]
    [InlineData("name: up0", "name: 0.a_b-c")]
    [InlineData("name: up0", "name: u1234567890123456789012345678901")]
    [InlineData("mtu: 1500", "mtu: 2034")]
    [InlineData("queues: 2", "queues: 8")]
    [InlineData("cores: [1, 2]", "cores: [0, 1023]")]
    [InlineData("--no-huge", "--vmware-tsc-map")]
    // A YAML plain scalar is text: no need to quote a MAC, which YAML 1.1 would read as a number.
    [InlineData("\"02:00:00:00:00:0b\"", "02:00:00:00:00:0b")]
    public void Edge_values_that_are_allowed(string find, string replacement) =>
        ConfigLoader.Parse(Yaml.With(find, replacement), ConfigFormat.Yaml);

    [Fact]
    public void At_most_32_ports()
    {
        string ports = string.Concat(Enumerable.Range(10, 29).Select(i => $"  - name: p{i}\n    devargs: net_null{i}\n"));
        Assert.Equal(["ports: 33 DPDK device ports configured; at most 32 (RTE_MAX_ETHPORTS; VM ports over vhost_user do not count)"], ErrorsOf(Yaml.With("tenants:\n", ports + "tenants:\n")));
    }

    [Fact]
    public void Exactly_32_ports_load()
    {
        string ports = string.Concat(Enumerable.Range(10, 28).Select(i => $"  - name: p{i}\n    devargs: net_null{i}\n"));
        Assert.Equal(32, ConfigLoader.Parse(Yaml.With("tenants:\n", ports + "tenants:\n"), ConfigFormat.Yaml).Spec.Ports.Length);
    }

    [Fact]
    public void Dpdk_section_is_required()
    {
        string withoutDpdk = Yaml.With("dpdk:\n  eal_args: [\"-l\", \"0-2\", \"--no-huge\"]\n  pmd_dir: /opt/dpdk/pmds\n  mbufs: 4095\n", "");
        Assert.Equal(["dpdk: is required"], ErrorsOf(withoutDpdk));
    }

    [Fact]
    public void Eal_args_are_required_but_may_be_empty()
    {
        Assert.Equal(["dpdk.eal_args: is required"], ErrorsOf(Yaml.With("  eal_args: [\"-l\", \"0-2\", \"--no-huge\"]\n", "")));
        Assert.Empty(ConfigLoader.Parse(Yaml.With("[\"-l\", \"0-2\", \"--no-huge\"]", "[]"), ConfigFormat.Yaml).EalArgs);
    }
}
