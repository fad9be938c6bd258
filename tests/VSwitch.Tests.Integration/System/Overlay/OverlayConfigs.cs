// vswitchd's configuration for each host of the overlay topology: the VM ports and tenants as
// VswitchdConfig writes them, plus the uplink port, the overlay section and each tenant's VNI
// and remote VMs. Keys follow the overlay schema (docs/configuration.md, "overlay").
using System.Text.Json.Nodes;
using VSwitch.Tests.Integration.Infrastructure;

namespace VSwitch.Tests.Integration.SystemTests.Overlay;

public static class OverlayConfigs
{
    public const string UplinkPort = "uplink0";
    public const int Ttl = 64;
    public const int NeighbourTimeoutSeconds = 300;

    /// <summary>The configuration of vswitchd on <paramref name="host"/>.</summary>
    public static JsonObject For(OverlayTopology t, OverlayHost host)
    {
        var ports = new List<VswitchdPort> { new(UplinkPort, $"net_af_packet0,iface={host.UplinkInterface}", "uplink", OverlayTopology.UnderlayMtu) };
        ports.AddRange(host.Vms.Select(e => new VswitchdPort(e.PortName, e.Devargs, "vm", OverlayTopology.TenantMtu)));
        var tenants = host.Vms.GroupBy(e => e.Tenant)
            .Select(g => new VswitchdTenant(g.Key, [.. g.Select(e => new VswitchdVm(e.Name, e.PortName, e.Mac, [e.Ipv4]))])).ToList();
        JsonObject json = new VswitchdConfig(host.FilePrefix, ports, tenants, ControlSocket: host.ControlSocket).ToJson();

        OverlayHost peer = host == t.A ? t.B : t.A;
        var remoteHosts = new JsonArray
        {
            new JsonObject
            {
                ["name"] = peer.Name,
                ["vtep"] = peer.Vtep,
                ["tunnel"] = "geneve",
                ["geneve_options"] = new JsonArray(new JsonObject
                {
                    ["class"] = OverlayTopology.GeneveOptionClass,
                    ["type"] = OverlayTopology.GeneveOptionType,
                    ["data"] = OverlayTopology.GeneveOptionData,
                }),
            },
        };
        if (host == t.A)
            remoteHosts.Add(new JsonObject { ["name"] = KernelHost, ["vtep"] = OverlayTopology.KernelVtep, ["tunnel"] = "vxlan" });
        json["overlay"] = new JsonObject
        {
            ["uplink"] = UplinkPort,
            ["vtep"] = $"{host.Vtep}/{OverlayTopology.UnderlayPrefixLength}",
            ["mac"] = host.OverlayMac,
            ["ttl"] = Ttl,
            ["neighbour_timeout_s"] = NeighbourTimeoutSeconds,
            ["remote_hosts"] = remoteHosts,
        };
        foreach (JsonNode? node in json["tenants"]!.AsArray())
        {
            JsonObject tenant = node!.AsObject();
            string name = (string)tenant["name"]!;
            tenant["vni"] = name == "red" ? OverlayTopology.RedVni : OverlayTopology.BlueVni;
            tenant["remote_vms"] = new JsonArray([.. RemoteVmsOf(t, host).Where(e => e.Tenant == name)
                .Select(e => (JsonNode)new JsonObject
                {
                    ["name"] = e.Name,
                    ["host"] = RemoteHostName(t, e),
                    ["mac"] = e.Mac,
                    ["ipv4"] = new JsonArray(e.Ipv4),
                })]);
        }
        return json;
    }

    /// <summary>The VMs of other hosts that <paramref name="host"/>'s vswitchd knows: all of the peer vswitchd's, and (on A) K's.</summary>
    public static IEnumerable<Endpoint> RemoteVmsOf(OverlayTopology t, OverlayHost host) =>
        t.Endpoints.Where(e => !host.Vms.Contains(e) && (e != t.RedK || host == t.A));

    /// <summary>The kernel VTEP's name in A's remote_hosts.</summary>
    public const string KernelHost = "host-k";

    private static string RemoteHostName(OverlayTopology t, Endpoint e) => e == t.RedK ? KernelHost : t.HostOf(e).Name;
}
