// Two tenants that overlap on purpose: red and blue each have VMs with the same MACs and IPs.
using System.Collections.Immutable;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Switching;

internal static class TestTopology
{
    public const string MacA = "02:00:00:00:00:0a";
    public const string MacB = "02:00:00:00:00:0b";
    public const string MacC = "02:00:00:00:00:0c";
    public const string IpA = "10.0.0.1";
    public const string IpB = "10.0.0.2";
    public const string IpC = "10.0.0.3";

    // Port ids: red-a 0, red-b 1, red-c 2, blue-a 3, blue-b 4, uplink 5, spare (no VM) 6.
    public static SwitchTables Build(int redBMtu = 1500, int redBQueues = 1, int workers = 1, bool redARoutes = false)
    {
        static VmSpec Vm(string name, string tenant, string port, string mac, string ip, params string[] ipv6) =>
            new(name, tenant, port, Mac(mac), [Ipv4.ParseAddress(ip)], [.. ipv6.Select(Ipv6.ParseAddress)]);

        var spec = new SwitchSpec(
            [new TenantSpec("red"), new TenantSpec("blue")],
            [
                new PortSpec("red-a", "net_null0", PortRole.Vm, 1500, 1),
                new PortSpec("red-b", "net_null1", PortRole.Vm, redBMtu, redBQueues),
                new PortSpec("red-c", "net_null2", PortRole.Vm, 1500, 1),
                new PortSpec("blue-a", "net_null3", PortRole.Vm, 1500, 1),
                new PortSpec("blue-b", "net_null4", PortRole.Vm, 1500, 1),
                new PortSpec("up0", "net_null5", PortRole.Uplink, 1500, 1),
                new PortSpec("spare", "net_null6", PortRole.Vm, 1500, 1),
            ],
            [
                Vm("red-a", "red", "red-a", MacA, IpA, "fd00::a") with { AllowRouting = redARoutes },
                Vm("red-b", "red", "red-b", MacB, IpB),
                Vm("red-c", "red", "red-c", MacC, IpC),
                Vm("blue-a", "blue", "blue-a", MacA, IpA, "fd00::a"),
                Vm("blue-b", "blue", "blue-b", MacB, IpB),
            ]);
        var ids = new Dictionary<string, ushort>
        {
            ["red-a"] = 0, ["red-b"] = 1, ["red-c"] = 2, ["blue-a"] = 3, ["blue-b"] = 4, ["up0"] = 5, ["spare"] = 6,
        };
        return SwitchTables.Build(spec, ids, workers);
    }

    public static ulong Mac(string text) => MacAddress.TryParse(text, out ulong mac) ? mac : throw new FormatException(text);
}
