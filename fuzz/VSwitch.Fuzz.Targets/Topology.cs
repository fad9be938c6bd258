// The host every frame target runs against, built the way vswitchd builds it: from a config file
// through ConfigLoader and SwitchTables.Build. Two tenants overlap on purpose (as in the demo):
// red and blue bind the same MACs, IPv4 and IPv6 addresses on their local and remote VMs, so a
// lookup that forgot the tenant would deliver across tenants and the checks would see it.
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Fuzz.Targets;

public static class Topology
{
    public const string Vtep = "192.168.50.1", HostB = "192.168.50.2", HostC = "192.168.50.3", Gateway = "192.168.50.254";
    public const uint RedVni = 5001, BlueVni = 5002;

    /// <summary>MACs bound in both tenants: A and B locally, C on host-b (VXLAN), D on host-c (GENEVE).</summary>
    public static readonly ulong[] BoundMacs = [0x02_00_00_00_00_0a, 0x02_00_00_00_00_0b, 0x02_00_00_00_00_0c, 0x02_00_00_00_00_0d];

    /// <summary>The IPv4 address of each of BoundMacs, in both tenants: 10.0.0.1 .. 10.0.0.4.</summary>
    public static readonly uint[] BoundIpv4 = [0x0A00_0001, 0x0A00_0002, 0x0A00_0003, 0x0A00_0004];

    public const string Yaml = """
        dpdk: { eal_args: [] }
        ports:
          - { name: red-a, devargs: net_null0 }
          - { name: red-b, devargs: net_null1, mtu: 1400 }
          - { name: blue-a, devargs: net_null2 }
          - { name: blue-b, devargs: net_null3, queues: 2 }
          - { name: up0, devargs: net_null4, role: uplink, mtu: 1600 }
        overlay:
          uplink: up0
          vtep: 192.168.50.1/24
          mac: "02:aa:00:00:00:01"
          gateway: 192.168.50.254
          static_neighbours:
            - { ip: 192.168.50.2, mac: "02:bb:00:00:00:02" }
          remote_hosts:
            - { name: host-b, vtep: 192.168.50.2, tunnel: vxlan }
            - name: host-c
              vtep: 192.168.50.3
              tunnel: geneve
              geneve_options:
                - { class: 0x0102, type: 0x80, data: "0011223344556677" }
        tenants:
          - name: red
            vni: 5001
            vms:
              - { name: red-a, port: red-a, mac: "02:00:00:00:00:0a", ipv4: ["10.0.0.1"], ipv6: ["fd00::1"] }
              - { name: red-b, port: red-b, mac: "02:00:00:00:00:0b", ipv4: ["10.0.0.2"] }
            remote_vms:
              - { name: red-c, host: host-b, mac: "02:00:00:00:00:0c", ipv4: ["10.0.0.3"] }
              - { name: red-d, host: host-c, mac: "02:00:00:00:00:0d", ipv4: ["10.0.0.4"] }
          - name: blue
            vni: 5002
            vms:
              - { name: blue-a, port: blue-a, mac: "02:00:00:00:00:0a", ipv4: ["10.0.0.1"], ipv6: ["fd00::1"] }
              - { name: blue-b, port: blue-b, mac: "02:00:00:00:00:0b", ipv4: ["10.0.0.2"] }
            remote_vms:
              - { name: blue-c, host: host-b, mac: "02:00:00:00:00:0c", ipv4: ["10.0.0.3"] }
              - { name: blue-d, host: host-c, mac: "02:00:00:00:00:0d", ipv4: ["10.0.0.4"] }
        """;

    /// <summary>DPDK port ids in the order vswitchd attaches the config's ports.</summary>
    public static readonly IReadOnlyDictionary<string, ushort> PortIds = new Dictionary<string, ushort>
    {
        ["red-a"] = 0, ["red-b"] = 1, ["blue-a"] = 2, ["blue-b"] = 3, ["up0"] = 4,
    };

    public static readonly SwitchTables Tables = SwitchTables.Build(ConfigLoader.Parse(Yaml, ConfigFormat.Yaml).Spec, PortIds, 1);

    public static OverlayTables Overlay => Tables.Overlay!;

    /// <summary>The bound VM ports, red's first: what L2Switch.Classify is called with as ingress.</summary>
    public static readonly PortBinding[] VmPorts = [.. Tables.Ports.OfType<PortBinding>().Where(p => p.IsBoundVm)];
}
