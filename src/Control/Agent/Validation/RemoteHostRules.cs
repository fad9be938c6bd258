// A remote host's create and delete (docs/agent.md, "Remote hosts"): another VTEP of the overlay.
// Two hosts with one VTEP address would make the underlay deliver one host's tunnels to the other.
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Validation;

public static class RemoteHostRules
{
    /// <summary>The encapsulations vswitchd speaks (docs/configuration.md, "overlay").</summary>
    public static IReadOnlyList<string> Tunnels { get; } = ["vxlan", "geneve"];

    public static (DesiredState After, RemoteHost Stored) Create(RemoteHost? request, DesiredState state)
    {
        RemoteHost host = Fields.Required(request, "body");
        Fields.Name(host.Name);
        Fields.UnicastIpv4(host.Vtep, "vtep");
        if (!Tunnels.Contains(Fields.Required(host.Tunnel, "tunnel")))
            throw Refusal.Malformed("tunnel", $"'{host.Tunnel}' is not a tunnel; one of: {string.Join(", ", Tunnels)}");
        Kinds.Host.ThrowIfTaken(host.Name, state);
        Kinds.Host.ThrowIfHeld("vtep", host.Vtep, h => h.Vtep, state, $"VTEP {host.Vtep}");
        return (state with { Hosts = [.. state.Hosts, host] }, host);
    }

    /// <summary>Refused while remote VMs run on the host: vswitchd would have nowhere to send their frames.</summary>
    public static DesiredState Delete(string name, DesiredState state)
    {
        RemoteHost host = Kinds.Host.Find(name, state);
        Kinds.RemoteVm.ThrowIfInUse(vm => vm.Host == name, state, $"remote host '{name}'");
        return state with { Hosts = [.. state.Hosts.Where(h => h != host)] };
    }
}
