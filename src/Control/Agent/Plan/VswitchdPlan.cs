// vswitchd's configuration file for a desired state (docs/configuration.md): every tenant, one
// vhost-user port and one VM entry per NIC of every VM, and, on a host with an uplink, the
// overlay toward the remote hosts. Resources are written in name order, so the text depends on
// what the state holds, not on the order the store returned it in.
using System.Text.Json.Nodes;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using static VSwitch.Control.Agent.Plan.PlanText;

namespace VSwitch.Control.Agent.Plan;

public static class VswitchdPlan
{
    /// <summary>The uplink port's name: a NIC's port always has ".nic" in its name, so no VM's port can take it.</summary>
    public const string UplinkPort = "uplink";

    /// <summary>The YAML text of vswitchd's configuration, to be written to <see cref="RuntimePaths.VswitchdConfig"/>.</summary>
    /// <exception cref="PlanException">A host setting no vswitchd can run with.</exception>
    public static string Compile(DesiredState state, HostSettings host) => Text(Build(state, host));

    /// <summary>
    /// vswitchd's configuration as a tree, the keys as the file spells them: what the reconcile
    /// loop compares with vswitchd's `list` reply (Reconcile/VswitchdDiff).
    /// </summary>
    /// <exception cref="PlanException">A host setting no vswitchd can run with.</exception>
    public static JsonObject Build(DesiredState state, HostSettings host)
    {
        host.Check();
        VswitchdSettings vswitchd = host.Vswitchd;
        UplinkSettings? uplink = vswitchd.Uplink;
        Vm[] vms = [.. state.Vms.OrderBy(vm => vm.Name, StringComparer.Ordinal)];
        var ports = vms.SelectMany(vm => NicPorts(vm, host)).ToList();
        if (uplink is not null)
            ports.Add(Object(("name", UplinkPort), ("devargs", uplink.Devargs), ("role", "uplink"), ("mtu", uplink.Mtu)));

        JsonObject config = Object(
            ("dpdk", Object(
                ("eal_args", Array((vswitchd.EalArgs ?? []).Select(arg => (JsonNode)arg))),
                ("pmd_dir", vswitchd.PmdDir),
                ("mbufs", vswitchd.Mbufs))),
            ("workers", vswitchd.WorkerCores is null && vswitchd.IdleSleepUs is null ? null : Object(
                ("cores", vswitchd.WorkerCores is { } cores ? Array(cores.Select(core => (JsonNode)core)) : null),
                ("idle_sleep_us", vswitchd.IdleSleepUs))),
            ("control_socket", host.Paths.ControlSocket),
            // vhost_dir: the agent adds VMs' ports over the control socket, which vswitchd
            // allows only for sockets below it.
            ("control", Object(("group", vswitchd.ControlGroup), ("vhost_dir", host.Paths.VhostDirectory))),
            ("ports", Array(ports)),
            ("tenants", Array(state.Tenants.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => Tenant(t, vms, overlay: uplink is not null)))),
            ("overlay", uplink is null ? null : Overlay(uplink, state.Hosts)));
        return config;
    }

    /// <summary>The configuration file's text for a tree <see cref="Build"/> made.</summary>
    public static string Text(JsonObject config) =>
        Yaml(config, "vswitchd's configuration, compiled by vswitch-agent from its desired state (docs/agent.md,\n\"Launch plan\"). The agent writes it again whenever that state changes: edits here are lost.");

    /// <summary>ports[]: NIC i of the VM, on the socket its vmm listens on.</summary>
    private static IEnumerable<JsonObject> NicPorts(Vm vm, HostSettings host) =>
        (vm.Nics ?? []).Select((_, i) => Object(
            ("name", PlanNames.Nic(vm.Name, i)),
            ("vhost_user", Object(("socket", host.Paths.NicSocket(vm.Name, i)), ("mode", HostSettings.VhostUserMode))),
            ("mtu", host.NicMtu)));

    /// <summary>
    /// tenants[]: the tenant and its VMs, one entry per NIC, named and bound to the NIC's port.
    /// The VNI only with an overlay: vswitchd refuses a vni without one, and has no use for it.
    /// </summary>
    private static JsonObject Tenant(Tenant tenant, IEnumerable<Vm> vms, bool overlay) => Object(
        ("name", PlanNames.Daemon(tenant.Name)),
        ("vni", overlay ? tenant.Vni : null),
        ("vms", Array(vms.Where(vm => vm.Tenant == tenant.Name).SelectMany(vm => (vm.Nics ?? []).Select((nic, i) => Object(
            ("name", PlanNames.Nic(vm.Name, i)),
            ("port", PlanNames.Nic(vm.Name, i)),
            ("mac", nic.Mac),
            ("ipv4", Array(nic.Ipv4.Select(address => (JsonNode)address)))))))));

    private static JsonObject Overlay(UplinkSettings uplink, IEnumerable<RemoteHost> hosts) => Object(
        ("uplink", UplinkPort),
        ("vtep", uplink.Vtep),
        ("mac", uplink.Mac),
        ("gateway", uplink.Gateway),
        ("static_neighbours", uplink.StaticNeighbours is { } pinned ? Array(pinned.Select(n => Object(("ip", n.Ip), ("mac", n.Mac)))) : null),
        ("remote_hosts", Array(hosts.OrderBy(h => h.Name, StringComparer.Ordinal).Select(h => Object(
            ("name", PlanNames.Daemon(h.Name)),
            ("vtep", h.Vtep),
            ("tunnel", h.Tunnel))))));
}
