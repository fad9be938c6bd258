// The overlay's rules (docs/overlay.md, docs/configuration.md): the VTEP and its underlay
// prefix, the remote hosts and their tunnels, each tenant's VNI, and remote VMs. Like the rest of
// SpecValidator they apply to the file and to every spec the control socket builds.
using VSwitch.Dataplane.Config.Internal;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Spec;

namespace VSwitch.Dataplane.Config;

public static partial class SpecValidator
{
    /// <summary>VNIs are 24 bits (RFC 7348 section 5, RFC 8926 section 3.4); 0 is left out as "no tenant".</summary>
    public const uint MinVni = 1;
    public const uint MaxVni = 0xFF_FFFF;
    public const int MinNeighbourTimeoutSeconds = 10;
    public const int MaxNeighbourTimeoutSeconds = 86_400;

    private static void CheckOverlay(SwitchSpec spec, ConfigErrors errors)
    {
        OverlaySpec? overlay = spec.Overlay;
        if (overlay is null)
        {
            for (int t = 0; t < spec.Tenants.Length; t++)
            {
                if (spec.Tenants[t].Vni is not null)
                    errors.Add($"tenants[{t}].vni", "given without an overlay section; a VNI only means something on a tunnel");
            }
            return;
        }

        if (overlay.Uplink.Length > 0)
        {
            PortSpec? uplink = spec.Ports.FirstOrDefault(p => p.Name == overlay.Uplink);
            if (uplink is null)
                errors.Add("overlay.uplink", $"'{overlay.Uplink}' is not a configured port");
            else if (uplink.Role != PortRole.Uplink)
                errors.Add("overlay.uplink", $"'{overlay.Uplink}' has role vm; the overlay needs the port with role uplink");
        }
        bool vtepValid = overlay.PrefixLength != 0 && IsUnicastIpv4(overlay.Vtep, "overlay.vtep", errors);
        if (vtepValid && overlay.PrefixLength < 31 && ((overlay.Vtep & ~overlay.PrefixMask) == 0 || (overlay.Vtep | overlay.PrefixMask) == uint.MaxValue))
            errors.Add("overlay.vtep", $"'{Ipv4.Format(overlay.Vtep)}/{overlay.PrefixLength}' is the network or broadcast address of its prefix");
        if (overlay.Mac is ulong mac)
            IsUnicastMac(mac, "overlay.mac", errors);
        if (overlay.Gateway is uint gateway && IsUnicastIpv4(gateway, "overlay.gateway", errors) && vtepValid)
        {
            if (!overlay.OnLink(gateway))
                errors.Add("overlay.gateway", $"'{Ipv4.Format(gateway)}' is outside the VTEP's prefix {Ipv4.Format(overlay.Vtep & overlay.PrefixMask)}/{overlay.PrefixLength}");
            else if (gateway == overlay.Vtep)
                errors.Add("overlay.gateway", $"'{Ipv4.Format(gateway)}' is this host's own VTEP address");
        }
        errors.InRange("overlay.ttl", overlay.Ttl, 1, 255);
        errors.InRange("overlay.neighbour_timeout_s", overlay.NeighbourTimeoutSeconds, MinNeighbourTimeoutSeconds, MaxNeighbourTimeoutSeconds);

        var neighbourIps = new UniqueValues<uint>(errors);
        for (int i = 0; i < overlay.StaticNeighbours.Length; i++)
        {
            StaticNeighbourSpec neighbour = overlay.StaticNeighbours[i];
            string path = $"overlay.static_neighbours[{i}]";
            if (IsUnicastIpv4(neighbour.Ip, $"{path}.ip", errors))
                neighbourIps.Claim(neighbour.Ip, $"{path}.ip", $"'{Ipv4.Format(neighbour.Ip)}'");
            IsUnicastMac(neighbour.Mac, $"{path}.mac", errors);
        }

        CheckRemoteHosts(overlay, vtepValid, errors);
        CheckVnis(spec, errors);
    }

    private static void CheckRemoteHosts(OverlaySpec overlay, bool vtepValid, ConfigErrors errors)
    {
        if (overlay.RemoteHosts.Length > OverlaySpec.MaxRemoteHosts)
            errors.Add("overlay.remote_hosts", $"{overlay.RemoteHosts.Length} remote hosts; at most {OverlaySpec.MaxRemoteHosts}");
        var names = new UniqueValues<string>(errors);
        var vteps = new UniqueValues<uint>(errors);
        for (int i = 0; i < overlay.RemoteHosts.Length; i++)
        {
            RemoteHostSpec host = overlay.RemoteHosts[i];
            string path = $"overlay.remote_hosts[{i}]";
            if (IsValidName(host.Name, $"{path}.name", errors))
                names.Claim(host.Name, $"{path}.name", $"'{host.Name}'");
            if (IsUnicastIpv4(host.Vtep, $"{path}.vtep", errors))
            {
                if (vtepValid && host.Vtep == overlay.Vtep)
                    errors.Add($"{path}.vtep", $"'{Ipv4.Format(host.Vtep)}' is this host's own VTEP address");
                else if (vtepValid && !overlay.OnLink(host.Vtep) && overlay.Gateway is null)
                    errors.Add($"{path}.vtep", $"'{Ipv4.Format(host.Vtep)}' is outside {Ipv4.Format(overlay.Vtep & overlay.PrefixMask)}/{overlay.PrefixLength} and overlay.gateway is not set");
                else
                    vteps.Claim(host.Vtep, $"{path}.vtep", $"'{Ipv4.Format(host.Vtep)}'");
            }
            if (!Enum.IsDefined(host.Tunnel))
                errors.Add($"{path}.tunnel", $"{(int)host.Tunnel} is not a tunnel type (vxlan or geneve)");
            else if (host.Tunnel != TunnelType.Geneve && host.GeneveOptions.Length > 0)
                errors.Add($"{path}.geneve_options", "given for a vxlan host; options exist only in GENEVE");
            CheckGeneveOptions(host, path, errors);
        }
    }

    private static void CheckGeneveOptions(RemoteHostSpec host, string path, ConfigErrors errors)
    {
        var keys = new UniqueValues<uint>(errors);
        for (int o = 0; o < host.GeneveOptions.Length; o++)
        {
            GeneveOption option = host.GeneveOptions[o];
            string at = $"{path}.geneve_options[{o}]";
            if (option.Data.Length % 4 != 0 || option.Data.Length > Geneve.MaxOptionDataLength)
                errors.Add($"{at}.data", $"{option.Data.Length} bytes; option data is a multiple of 4 bytes, at most {Geneve.MaxOptionDataLength} (RFC 8926 section 3.5)");
            keys.Claim(Geneve.OptionKey(option.Class, option.Type), $"{at}.type", $"option class 0x{option.Class:x4} type 0x{option.Type:x2}");
        }
        int total = Geneve.OptionsLength(host.GeneveOptions);
        if (total > Geneve.MaxOptionsLength)
            errors.Add($"{path}.geneve_options", $"{total} bytes of options; GENEVE carries at most {Geneve.MaxOptionsLength} (Opt Len is 6 bits of 4-byte words)");
    }

    private static void CheckVnis(SwitchSpec spec, ConfigErrors errors)
    {
        var vnis = new UniqueValues<uint>(errors);
        for (int t = 0; t < spec.Tenants.Length; t++)
        {
            string path = $"tenants[{t}].vni";
            if (spec.Tenants[t].Vni is not uint vni)
                errors.Add(path, "is required when an overlay is configured (1..16777215, unique per host)");
            else if (errors.InRange(path, vni, MinVni, MaxVni))
                vnis.Claim(vni, path, $"VNI {vni}");
        }
    }

    private static void CheckRemoteVms(SwitchSpec spec, SpecPaths paths, ConfigErrors errors, Dictionary<string, TenantAddresses> tenants)
    {
        if (spec.RemoteVms.Length > 0 && spec.Overlay is null)
        {
            errors.Add(paths.RemoteVms[0], "remote VMs need an overlay section (the VTEP and remote_hosts)");
            return;
        }
        var hosts = spec.Overlay?.RemoteHosts.Select(h => h.Name).ToHashSet(StringComparer.Ordinal) ?? [];
        var localNames = spec.Vms.Select(vm => vm.Name).ToHashSet(StringComparer.Ordinal);
        var names = new UniqueValues<string>(errors);
        for (int k = 0; k < spec.RemoteVms.Length; k++)
        {
            RemoteVmSpec vm = spec.RemoteVms[k];
            string path = paths.RemoteVms[k];
            if (IsValidName(vm.Name, $"{path}.name", errors) && localNames.Contains(vm.Name))
                errors.Add($"{path}.name", $"'{vm.Name}' is already the name of a local VM");
            else
                names.Claim(vm.Name, $"{path}.name", $"'{vm.Name}'");
            if (vm.Host.Length == 0)
                errors.Required($"{path}.host");
            else if (!hosts.Contains(vm.Host))
                errors.Add($"{path}.host", $"'{vm.Host}' is not one of overlay.remote_hosts");
            if (!tenants.TryGetValue(vm.Tenant, out TenantAddresses? tenant))
                errors.Add($"{path}.tenant", $"'{vm.Tenant}' is not a configured tenant");
            tenant?.Check(vm, path);
        }
    }

    private static bool IsUnicastIpv4(uint ip, string path, ConfigErrors errors)
    {
        string shown = $"'{Ipv4.Format(ip)}'";
        if (ip == 0)
            errors.Add(path, $"{shown} is the unspecified address");
        else if (ip == uint.MaxValue)
            errors.Add(path, $"{shown} is the broadcast address");
        else if (ip >> 28 == 0xE)
            errors.Add(path, $"{shown} is a multicast address (224.0.0.0/4)");
        else if (ip >> 24 == 127)
            errors.Add(path, $"{shown} is a loopback address (127.0.0.0/8)");
        else
            return true;
        return false;
    }
}
