// vswitchd's configuration file for a desired state (docs/configuration.md): every tenant, one
// vhost-user port and one VM entry per NIC of every VM, and, on a host with an uplink, the
// overlay toward the remote hosts and the remote VMs of tenants with a NIC on this host.
// Resources are written in name order, so the text depends on what the state holds, not on the
// order the store returned it in.
//
// A tenant's remote VMs are left out while the tenant has no NIC here. Nothing on this host
// sends to them or takes their frames then, and a running vswitchd cannot hold them: a tenant
// lives there only while it has a VM, and goes with its remote VMs when its last one is removed
// (docs/control-socket.md, remove-vm). Leaving them out of the file too keeps a vswitchd started
// from it equal to one changed live, so neither needs a restart to match the plan.
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
            ("tenants", Array(state.Tenants.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => Tenant(t, vms, state.RemoteVms, overlay: uplink is not null)))),
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
    /// tenants[]: the tenant and its VMs, one entry per NIC, named and bound to the NIC's port;
    /// with an overlay, its VNI and, while it has a NIC here, its remote VMs. vswitchd refuses a
    /// vni and remote VMs without an overlay, and would have no use for them.
    /// </summary>
    private static JsonObject Tenant(Tenant tenant, IEnumerable<Vm> vms, IEnumerable<RemoteVm> remoteVms, bool overlay)
    {
        JsonObject[] nics = [.. vms.Where(vm => vm.Tenant == tenant.Name).SelectMany(vm => (vm.Nics ?? []).Select((nic, i) => Object(
            ("name", PlanNames.Nic(vm.Name, i)),
            ("port", PlanNames.Nic(vm.Name, i)),
            ("mac", nic.Mac),
            ("ipv4", Addresses(nic.Ipv4)))))];
        JsonObject[] remote = overlay && nics.Length > 0
            ? [.. remoteVms.Where(vm => vm.Tenant == tenant.Name).OrderBy(vm => vm.Name, StringComparer.Ordinal).Select(vm => Object(
                ("name", PlanNames.RemoteVm(vm.Name)),
                ("host", PlanNames.Daemon(vm.Host)),
                ("mac", vm.Mac),
                ("ipv4", Addresses(vm.Ipv4 ?? []))))]
            : [];
        return Object(
            ("name", PlanNames.Daemon(tenant.Name)),
            ("vni", overlay ? tenant.Vni : null),
            ("vms", Array(nics)),
            ("remote_vms", remote.Length > 0 ? Array(remote) : null));
    }

    /// <summary>
    /// What of the desired state no plan for this host can give vswitchd, as the reconcile loop
    /// reports it (/v1/status); null when nothing. Remote VMs need the overlay, and the overlay an
    /// uplink: on a host without one they are stored, but vswitchd cannot reach them.
    /// </summary>
    public static string? Unserved(DesiredState state, HostSettings host) =>
        host.Vswitchd.Uplink is null && state.RemoteVms.Count > 0
            ? $"{state.RemoteVms.Count} remote VM(s) not programmed ({string.Join(", ", state.RemoteVms.Select(vm => vm.Name).Order(StringComparer.Ordinal))}): " +
              "the host settings have no vswitchd.uplink, so vswitchd has no overlay to reach them through"
            : null;

    private static JsonArray Addresses(IEnumerable<string> addresses) => Array(addresses.Select(address => (JsonNode)address));

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
