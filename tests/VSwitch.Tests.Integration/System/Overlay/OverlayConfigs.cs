// vswitchd's configuration for each host of the overlay topology, through VswitchdConfig: the VM
// ports and tenants, the uplink port, the overlay section and each tenant's VNI and remote VMs.
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
            .Select(g => new VswitchdTenant(g.Key, [.. g.Select(e => new VswitchdVm(e.Name, e.PortName, e.Mac, [e.Ipv4]))],
                Vni: g.Key == "red" ? OverlayTopology.RedVni : OverlayTopology.BlueVni,
                RemoteVms: [.. RemoteVmsOf(t, host).Where(e => e.Tenant == g.Key).Select(e => new VswitchdRemoteVm(e.Name, RemoteHostName(t, e), e.Mac, [e.Ipv4]))]))
            .ToList();

        OverlayHost peer = host == t.A ? t.B : t.A;
        var remoteHosts = new List<VswitchdRemoteHost>
        {
            new(peer.Name, peer.Vtep, "geneve",
                [new VswitchdGeneveOption(OverlayTopology.GeneveOptionClass, OverlayTopology.GeneveOptionType, OverlayTopology.GeneveOptionData)]),
        };
        if (host == t.A)
            remoteHosts.Add(new VswitchdRemoteHost(KernelHost, OverlayTopology.KernelVtep, "vxlan"));
        return new VswitchdConfig(host.FilePrefix, ports, tenants, ControlSocket: host.ControlSocket)
        {
            Overlay = new VswitchdOverlay(UplinkPort, $"{host.Vtep}/{OverlayTopology.UnderlayPrefixLength}", host.OverlayMac, remoteHosts)
            {
                Ttl = Ttl,
                NeighbourTimeoutSeconds = NeighbourTimeoutSeconds,
            },
        }.ToJson();
    }

    /// <summary>The VMs of other hosts that <paramref name="host"/>'s vswitchd knows: all of the peer vswitchd's, and (on A) K's.</summary>
    public static IEnumerable<Endpoint> RemoteVmsOf(OverlayTopology t, OverlayHost host) =>
        t.Endpoints.Where(e => !host.Vms.Contains(e) && (e != t.RedK || host == t.A));

    /// <summary>The kernel VTEP's name in A's remote_hosts.</summary>
    public const string KernelHost = "host-k";

    private static string RemoteHostName(OverlayTopology t, Endpoint e) => e == t.RedK ? KernelHost : t.HostOf(e).Name;
}
