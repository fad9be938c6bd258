// The rules a SwitchSpec must satisfy before SwitchTables.Build may compile it. The loader applies
// them to the configuration file, and the control socket to the whole new spec whenever a port
// or VM is added at run time, so they know nothing of files: errors name fields the way the file
// would ("tenants[0].vms[1].mac: ...").
using System.Collections.Immutable;
using System.Text.RegularExpressions;
using VSwitch.Common.Sockets;
using VSwitch.Dataplane.Config.Internal;
using VSwitch.Dataplane.Ports;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Dataplane.Config;

public static partial class SpecValidator
{
    /// <summary>68 is the least MTU an IPv4 host must accept (RFC 791).</summary>
    public const int MinMtu = 68;
    /// <summary>A frame must fit one mbuf (MbufBudget): no jumbo frames, which would all be dropped as multi_segment.</summary>
    public const int MaxMtu = MbufBudget.MaxMtu;

    public const int MinQueues = 1;
    public const int MaxQueues = SwitchTables.MaxQueues;

    private const string NameRule = "1 to 32 of a-z 0-9 _ . -, starting with a letter or digit";

    /// <summary>Returns every rule the spec breaks, one "field.path: problem" per entry; empty when it is valid.</summary>
    public static IReadOnlyList<string> Validate(SwitchSpec spec) =>
        Check(spec, SpecPaths.For(spec)).Select(error => error.ToString()).ToArray();

    internal static IReadOnlyList<FieldError> Check(SwitchSpec spec, SpecPaths paths)
    {
        var errors = new ConfigErrors();
        CheckPorts(spec, paths, errors);
        CheckTenants(spec, paths, errors);
        var tenants = CheckVms(spec, paths, errors);
        CheckOverlay(spec, errors);
        CheckRemoteVms(spec, paths, errors, tenants);
        return errors.All;
    }

    private static void CheckPorts(SwitchSpec spec, SpecPaths paths, ConfigErrors errors)
    {
        int vhostPorts = spec.Ports.Count(p => p.VhostUser is not null), ethPorts = spec.Ports.Length - vhostPorts;
        if (ethPorts > SwitchTables.MaxEthPorts)
            errors.Add("ports", $"{ethPorts} DPDK device ports configured; at most {SwitchTables.MaxEthPorts} (RTE_MAX_ETHPORTS; VM ports over vhost_user do not count)");
        if (vhostPorts > SwitchTables.MaxVhostPorts)
            errors.Add("ports", $"{vhostPorts} vhost_user ports configured; at most {SwitchTables.MaxVhostPorts}");

        var names = new UniqueValues<string>(errors);
        var devices = new UniqueValues<string>(errors);
        var sockets = new UniqueValues<string>(errors);
        string? uplink = null;
        for (int i = 0; i < spec.Ports.Length; i++)
        {
            PortSpec port = spec.Ports[i];
            string path = paths.Ports[i];
            if (IsValidName(port.Name, $"{path}.name", errors))
                names.Claim(port.Name, $"{path}.name", $"'{port.Name}'");

            if (port.VhostUser is { } vhost)
                CheckVhostUser(port, vhost, path, sockets, errors);
            else if (port.Devargs.Length == 0)
                errors.Required($"{path}.devargs");
            else if (port.DeviceName.Length == 0)
                errors.Add($"{path}.devargs", $"'{port.Devargs}' has no device name before its first comma");
            else
                devices.Claim(port.DeviceName, $"{path}.devargs", $"device '{port.DeviceName}'");

            if (!Enum.IsDefined(port.Role))
                errors.Add($"{path}.role", $"{(int)port.Role} is not a port role (vm or uplink)");
            else if (port.Role == PortRole.Uplink && uplink is not null)
                errors.Add($"{path}.role", $"'uplink' given twice; {uplink} is already the uplink");
            else if (port.Role == PortRole.Uplink)
                uplink = path;

            if (port.Mtu > MaxMtu)
                errors.Add($"{path}.mtu", $"{port.Mtu} makes frames of {port.Mtu + Ethernet.HeaderLength} bytes (MTU + the {Ethernet.HeaderLength}-byte " +
                    $"Ethernet header), more than the {MbufBudget.DataRoom} bytes of one mbuf; at most {MaxMtu} (jumbo frames are not carried)");
            else
                errors.InRange($"{path}.mtu", port.Mtu, MinMtu, MaxMtu);
            errors.InRange($"{path}.queues", port.Queues, MinQueues, MaxQueues);
        }
    }

    /// <summary>A vhost-user port: a VM port with an absolute socket path of its own, and no devargs beside it.</summary>
    private static void CheckVhostUser(PortSpec port, VhostUserSpec vhost, string path, UniqueValues<string> sockets, ConfigErrors errors)
    {
        if (port.Devargs.Length != 0)
            errors.Add($"{path}.devargs", "a port has devargs (a DPDK device) or vhost_user (a VM's vhost-user socket), not both");
        if (port.Role != PortRole.Vm)
            errors.Add($"{path}.role", "a vhost_user port is a VM's port (role vm); the uplink is a DPDK device");
        if (!Enum.IsDefined(vhost.Mode))
            errors.Add($"{path}.vhost_user.mode", $"{(int)vhost.Mode} is not a vhost-user mode (server or client)");
        string socket = vhost.Socket;
        if (socket.Length == 0)
            errors.Required($"{path}.vhost_user.socket");
        else if (!Path.IsPathFullyQualified(socket))
            errors.Add($"{path}.vhost_user.socket", $"'{socket}' is not an absolute path");
        else if (System.Text.Encoding.UTF8.GetByteCount(socket) > SocketPath.MaxPathBytes)
            errors.Add($"{path}.vhost_user.socket", $"'{socket}' is {System.Text.Encoding.UTF8.GetByteCount(socket)} bytes long; a unix socket path holds at most {SocketPath.MaxPathBytes}");
        else
            sockets.Claim(Path.GetFullPath(socket), $"{path}.vhost_user.socket", $"socket '{socket}'");
    }

    private static void CheckTenants(SwitchSpec spec, SpecPaths paths, ConfigErrors errors)
    {
        if (spec.Tenants.Length > SwitchTables.MaxTenants)
            errors.Add("tenants", $"{spec.Tenants.Length} tenants configured; at most {SwitchTables.MaxTenants} (the switching tables key a tenant in 16 bits)");
        var names = new UniqueValues<string>(errors);
        for (int t = 0; t < spec.Tenants.Length; t++)
        {
            string path = $"{paths.Tenants[t]}.name";
            if (IsValidName(spec.Tenants[t].Name, path, errors))
                names.Claim(spec.Tenants[t].Name, path, $"'{spec.Tenants[t].Name}'");
        }
    }

    private static Dictionary<string, TenantAddresses> CheckVms(SwitchSpec spec, SpecPaths paths, ConfigErrors errors)
    {
        var ports = new Dictionary<string, PortSpec>(StringComparer.Ordinal);
        foreach (PortSpec port in spec.Ports)
            ports.TryAdd(port.Name, port);

        // Tenants overlap: MACs and addresses need only be unique within one, so each has its own sets.
        var tenants = new Dictionary<string, TenantAddresses>(StringComparer.Ordinal);
        foreach (TenantSpec tenant in spec.Tenants)
            tenants.TryAdd(tenant.Name, new TenantAddresses(errors));
        for (int k = 0; k < spec.Vms.Length; k++)
        {
            if (tenants.TryGetValue(spec.Vms[k].Tenant, out TenantAddresses? tenant))
                tenant.AddLinkLocal(spec.Vms[k].Mac, paths.Vms[k]);
        }

        var names = new UniqueValues<string>(errors);
        var boundPorts = new UniqueValues<string>(errors);
        for (int k = 0; k < spec.Vms.Length; k++)
        {
            VmSpec vm = spec.Vms[k];
            string path = paths.Vms[k];
            if (IsValidName(vm.Name, $"{path}.name", errors))
                names.Claim(vm.Name, $"{path}.name", $"'{vm.Name}'");

            if (!tenants.TryGetValue(vm.Tenant, out TenantAddresses? tenant))
                errors.Add($"{path}.tenant", $"'{vm.Tenant}' is not a configured tenant");

            if (vm.Port.Length == 0)
                errors.Required($"{path}.port");
            else if (!ports.TryGetValue(vm.Port, out PortSpec? port))
                errors.Add($"{path}.port", $"'{vm.Port}' is not a configured port");
            else if (port.Role != PortRole.Vm)
                errors.Add($"{path}.port", $"'{vm.Port}' is the uplink; a VM needs a port with role vm");
            else
                boundPorts.Claim(vm.Port, $"{path}.port", $"port '{vm.Port}'");

            errors.InRange($"{path}.flood_rate_pps", vm.FloodRatePps, 1, VmSpec.MaxFloodRatePps);
            errors.InRange($"{path}.flood_burst", vm.FloodBurst, 1, VmSpec.MaxFloodBurst);
            tenant?.Check(vm, path);
        }
        return tenants;
    }

    /// <summary>Adds an error unless the MAC can belong to one interface: not all-zero, not a group address.</summary>
    private static bool IsUnicastMac(ulong value, string path, ConfigErrors errors)
    {
        string mac = $"'{MacAddress.Format(value)}'";
        if (value == 0)
            errors.Add(path, $"{mac} is the all-zero address");
        else if (MacAddress.IsGroup(value))
            errors.Add(path, $"{mac} is a group (multicast or broadcast) address; the I/G bit, 0x01 of the first octet, must be clear");
        else
            return true;
        return false;
    }

    private static bool IsValidName(string name, string path, ConfigErrors errors)
    {
        if (name.Length == 0)
            errors.Required(path);
        else if (!NamePattern().IsMatch(name))
            errors.Add(path, $"'{name}' is not a valid name ({NameRule})");
        else
            return true;
        return false;
    }

    // \z, not $: $ also matches before a final newline.
    [GeneratedRegex(@"\A[a-z0-9][a-z0-9_.-]{0,31}\z")]
    private static partial Regex NamePattern();

    /// <summary>The MACs and addresses of one tenant's VMs, which the anti-spoofing checks tell apart.</summary>
    private sealed class TenantAddresses(ConfigErrors errors)
    {
        private readonly UniqueValues<ulong> _macs = new(errors);
        private readonly UniqueValues<uint> _ipv4 = new(errors);
        private readonly UniqueValues<UInt128> _ipv6 = new(errors);

        private readonly Dictionary<UInt128, string> _linkLocalOwner = [];

        /// <summary>
        /// Every VM may also source from the link-local address derived from its MAC; another VM
        /// configured with that address would pass the anti-spoofing check in its name.
        /// </summary>
        public void AddLinkLocal(ulong mac, string vmPath)
        {
            if (mac != 0 && !MacAddress.IsGroup(mac))
                _linkLocalOwner.TryAdd(MacAddress.LinkLocalIpv6(mac), vmPath);
        }

        public void Check(VmSpec vm, string path)
        {
            ClaimMac(vm.Mac, $"{path}.mac");
            ClaimIpv4(vm.Ipv4, path);
            ClaimIpv6(vm.Ipv6, path);
        }

        /// <summary>A remote VM shares the tenant's MAC and address space with the local ones.</summary>
        public void Check(RemoteVmSpec vm, string path)
        {
            ClaimMac(vm.Mac, $"{path}.mac");
            ClaimIpv4(vm.Ipv4, path);
        }

        private void ClaimMac(ulong value, string macPath)
        {
            if (IsUnicastMac(value, macPath, errors))
                _macs.Claim(value, macPath, $"'{MacAddress.Format(value)}'");
        }

        private void ClaimIpv4(ImmutableArray<uint> addresses, string path)
        {
            for (int i = 0; i < addresses.Length; i++)
            {
                uint ip = addresses[i];
                string ipPath = $"{path}.ipv4[{i}]";
                string shown = $"'{Ipv4.Format(ip)}'";
                if (ip == 0)
                    errors.Add(ipPath, $"{shown} is the unspecified address");
                else if (ip == uint.MaxValue)
                    errors.Add(ipPath, $"{shown} is the broadcast address");
                else if (ip >> 28 == 0xE)
                    errors.Add(ipPath, $"{shown} is a multicast address (224.0.0.0/4)");
                else
                    _ipv4.Claim(ip, ipPath, shown);
            }
        }

        private void ClaimIpv6(ImmutableArray<UInt128> addresses, string path)
        {
            for (int i = 0; i < addresses.Length; i++)
            {
                UInt128 ip = addresses[i];
                string ipPath = $"{path}.ipv6[{i}]";
                string shown = $"'{Ipv6.Format(ip)}'";
                if (ip == UInt128.Zero)
                    errors.Add(ipPath, $"{shown} is the unspecified address");
                else if (ip >> 120 == 0xFF)
                    errors.Add(ipPath, $"{shown} is a multicast address (ff00::/8)");
                else if (_linkLocalOwner.TryGetValue(ip, out string? owner) && owner != path)
                    errors.Add(ipPath, $"{shown} is the link-local address of {owner}, derived from its MAC");
                else
                    _ipv6.Claim(ip, ipPath, shown);
            }
        }
    }
}
