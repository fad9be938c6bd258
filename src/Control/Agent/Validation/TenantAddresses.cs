// The addresses of a tenant's network: each NIC's MAC and IPv4 addresses of the tenant's VMs on
// this host, and each remote VM's. vswitchd keys a tenant's forwarding, ARP answers and source
// checks on them, local and remote VMs alike (docs/configuration.md, "Tenants overlap",
// tenants[].remote_vms[]), so within a tenant each has one holder; another tenant may use the
// same ones. VmRules and RemoteVmRules check a request's addresses here, in the same words.
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Validation;

internal static class TenantAddresses
{
    /// <summary>
    /// One MAC and its IPv4 addresses, each well-formed (400) and none held by an earlier field
    /// of the request (400); returns them as stored: the MAC in lower case, no address list null.
    /// </summary>
    /// <param name="prefix">What the fields' names start with: "nics[0]." for a NIC, "" for a remote VM.</param>
    /// <param name="seen">The request's addresses so far, each with its field; the MAC and addresses are added.</param>
    public static (string Mac, IReadOnlyList<string> Ipv4) Check(string? mac, IReadOnlyList<string>? ipv4, string prefix, Dictionary<string, string> seen)
    {
        string canonical = Fields.UnicastMac(mac, $"{prefix}mac");
        Fields.Once(seen, canonical, $"{prefix}mac");
        IReadOnlyList<string> addresses = ipv4 ?? [];
        for (int j = 0; j < addresses.Count; j++)
            Fields.Once(seen, Fields.UnicastIpv4(addresses[j], $"{prefix}ipv4[{j}]"), $"{prefix}ipv4[{j}]");
        return (canonical, addresses);
    }

    /// <summary>The MAC and each address, with the field a request spells it in, for <see cref="ThrowIfHeld"/>.</summary>
    public static IEnumerable<(string Address, string Field)> Claims(string mac, IReadOnlyList<string> ipv4, string prefix) =>
        ipv4.Select((address, j) => (address, $"{prefix}ipv4[{j}]")).Prepend((mac, $"{prefix}mac"));

    /// <summary>
    /// Refuses the first claim that a VM's NIC or a remote VM of <paramref name="tenant"/> holds:
    /// 409 on the claim's field, naming the holder. The switch delivers a MAC to one place and
    /// answers ARP for one owner of an address, so a second holder would take the first's traffic.
    /// </summary>
    public static void ThrowIfHeld(IEnumerable<(string Address, string Field)> claims, string tenant, DesiredState state)
    {
        var held = new Dictionary<string, string>();
        foreach (Vm vm in state.Vms.Where(vm => vm.Tenant == tenant))
        {
            foreach (Nic nic in vm.Nics ?? [])
                Hold(held, Claims(nic.Mac, nic.Ipv4, ""), $"VM '{vm.Name}'");
        }
        foreach (RemoteVm remote in state.RemoteVms.Where(remote => remote.Tenant == tenant))
            Hold(held, Claims(remote.Mac, remote.Ipv4 ?? [], ""), $"remote VM '{remote.Name}'");

        foreach ((string address, string field) in claims)
        {
            if (held.TryGetValue(address, out string? holder))
                throw Refusal.Conflict(field, $"{address} is already held by {holder} of tenant '{tenant}'");
        }
    }

    private static void Hold(Dictionary<string, string> held, IEnumerable<(string Address, string Field)> addresses, string holder)
    {
        foreach ((string address, _) in addresses)
            held.TryAdd(address, holder);
    }
}
