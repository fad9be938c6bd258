// Turns the file's fields into a DaemonConfig: defaults for what is not given, text parsed into
// addresses, and the checks on the daemon's own settings. The switch's rules belong to
// SpecValidator, because the control socket applies them to specs that never were a file.
using System.Collections.Immutable;
using System.Text;
using VSwitch.Common.Sockets;
using VSwitch.Dataplane.Ports;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Spec;

namespace VSwitch.Dataplane.Config.Internal;

internal static class ConfigMapper
{
    private const int DefaultQueues = 1;

    /// <summary>
    /// Maps everything, reporting what cannot be mapped. A value that cannot be parsed becomes a
    /// placeholder that SpecValidator rejects at the same path (see ConfigErrors.AddFollowUps), so
    /// the VM or port stays in the spec and its other fields are still checked.
    /// </summary>
    public static (DaemonConfig Config, SpecPaths Paths) Map(ConfigDocument document, ConfigErrors errors)
    {
        DpdkSection? dpdk = document.Dpdk;
        if (dpdk is null)
            errors.Required("dpdk");
        else if (dpdk.EalArgs is null)
            errors.Required("dpdk.eal_args");

        (SwitchSpec spec, SpecPaths paths) = MapSpec(document, errors);
        var config = new DaemonConfig
        {
            EalArgs = MapEalArgs(dpdk?.EalArgs ?? [], errors),
            PmdDir = NotEmpty(dpdk?.PmdDir, "dpdk.pmd_dir", errors) ?? DaemonConfig.DefaultPmdDir,
            Mbufs = InRange(dpdk?.Mbufs ?? DaemonConfig.DefaultMbufs, "dpdk.mbufs", DaemonConfig.MinMbufs, DaemonConfig.MaxMbufs, errors),
            WorkerCores = MapCores(document.Workers?.Cores ?? [DaemonConfig.DefaultWorkerCore], errors),
            IdleSleepMicroseconds = InRange(document.Workers?.IdleSleepUs ?? 0, "workers.idle_sleep_us", 0, DaemonConfig.MaxIdleSleepMicroseconds, errors),
            ControlSocket = MapControlSocket(document.ControlSocket, errors),
            ControlLimits = MapControlLimits(document.Control, errors),
            RuntimePorts = MapRuntimePorts(document.Control, errors),
            Flows = new FlowSettings(
                document.Flows?.Enabled ?? FlowSettings.Default.Enabled,
                InRange(document.Flows?.TableSize ?? FlowSettings.DefaultTableSize, "flows.table_size", FlowSettings.MinTableSize, FlowSettings.MaxTableSize, errors),
                InRange(document.Flows?.Top ?? FlowSettings.DefaultTop, "flows.top", 1, FlowSettings.MaxTop, errors),
                InRange(document.Flows?.SampleRate ?? FlowSettings.DefaultSampleRate, "flows.sample_rate", 1, FlowSettings.MaxSampleRate, errors)),
            MetricsListen = MapListen(document.Metrics?.Listen, "metrics.listen", errors),
            Spec = spec,
        };
        // dpdk.mbufs is a floor the ports set: a pool their rings, caches and bursts would drain is
        // refused here (once the pool size and the worker count are themselves valid).
        if (config.Mbufs is >= DaemonConfig.MinMbufs and <= DaemonConfig.MaxMbufs
            && config.WorkerCores.Count is > 0 and <= DaemonConfig.MaxWorkerCores
            && MbufBudget.Shortfall(spec.Ports, config.Mbufs, config.WorkerCores.Count) is { } shortfall)
            errors.Add("dpdk.mbufs", shortfall);
        return (config, paths);
    }

    private static IReadOnlyList<string> MapEalArgs(IReadOnlyList<string?> args, ConfigErrors errors)
    {
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] is { } arg && IsVdevOption(arg))
                errors.Add($"dpdk.eal_args[{i}]", $"'{arg}' is not allowed: vswitchd adds one --vdev per port, from ports[].devargs");
        }
        return args.OfType<string>().ToArray();
    }

    // EAL parses its options with getopt_long, which takes any unambiguous prefix of a long
    // option: "--vd" and "--vde" are --vdev as much as "--vdev=net_null0" is.
    private static bool IsVdevOption(string arg)
    {
        string option = arg.Split('=', 2)[0];
        return option.Length >= "--vd".Length && "--vdev".StartsWith(option, StringComparison.Ordinal);
    }

    private static IReadOnlyList<int> MapCores(IReadOnlyList<int?> cores, ConfigErrors errors)
    {
        if (cores.Count is 0 or > DaemonConfig.MaxWorkerCores)
            errors.Add("workers.cores", $"lists {cores.Count} cores; 1..{DaemonConfig.MaxWorkerCores} allowed");
        var unique = new UniqueValues<int>(errors);
        for (int i = 0; i < cores.Count; i++)
        {
            string path = $"workers.cores[{i}]";
            if (cores[i] is int core && errors.InRange(path, core, 0, DaemonConfig.MaxCoreId))
                unique.Claim(core, path, $"core {core}");
        }
        return cores.OfType<int>().ToArray();
    }

    /// <summary>"address:port" (an IPv6 address in brackets), the port 1..65535; null when not given.</summary>
    private static ListenAddress? MapListen(string? listen, string path, ConfigErrors errors)
    {
        listen = NotEmpty(listen, path, errors);
        if (listen is null)
            return null;
        if (!System.Net.IPEndPoint.TryParse(listen, out System.Net.IPEndPoint? endpoint) || endpoint.Port == 0)
        {
            errors.Add(path, $"'{listen}' is not an address and port such as 127.0.0.1:9464 or [::1]:9464");
            return null;
        }
        return new ListenAddress(endpoint.Address.ToString(), endpoint.Port);
    }

    private static string? MapControlSocket(string? socket, ConfigErrors errors)
    {
        socket = NotEmpty(socket, "control_socket", errors);
        if (socket is not null && Encoding.UTF8.GetByteCount(socket) > SocketPath.MaxPathBytes)
        {
            errors.Add("control_socket",
                $"'{socket}' is {Encoding.UTF8.GetByteCount(socket)} bytes long; a unix socket path holds at most {SocketPath.MaxPathBytes}");
        }
        return socket;
    }

    private static ConnectionLimits MapControlLimits(ControlSection? control, ConfigErrors errors)
    {
        ConnectionLimits defaults = ConnectionLimits.Default;
        return new ConnectionLimits(
            control?.Group is { } group ? MapGroup(group, errors) : null,
            InRange(control?.MaxConnections ?? defaults.MaxConnections, "control.max_connections", 1, ConnectionLimits.MaxMaxConnections, errors),
            TimeSpan.FromSeconds(InRange(control?.IdleTimeoutS ?? ConnectionLimits.DefaultIdleTimeoutSeconds, "control.idle_timeout_s", 1, ConnectionLimits.MaxTimeoutSeconds, errors)),
            TimeSpan.FromSeconds(InRange(control?.FrameTimeoutS ?? ConnectionLimits.DefaultFrameTimeoutSeconds, "control.frame_timeout_s", 1, ConnectionLimits.MaxTimeoutSeconds, errors)));
    }

    /// <summary>A gid, or a group name looked up in /etc/group (GroupDatabase).</summary>
    private static uint? MapGroup(string group, ConfigErrors errors)
    {
        uint? gid = GroupDatabase.Gid(group);
        if (gid is null)
            errors.Add("control.group", $"'{group}' is neither a gid nor a group in {GroupDatabase.GroupFile}");
        return gid;
    }

    private static RuntimePortPolicy MapRuntimePorts(ControlSection? control, ConfigErrors errors) => new(
        AbsoluteDirectory(control?.PcapDir, "control.pcap_dir", errors) ?? RuntimePortPolicy.DefaultPcapDir,
        AbsoluteDirectory(control?.VhostDir, "control.vhost_dir", errors) ?? RuntimePortPolicy.DefaultVhostDir);

    private static string? AbsoluteDirectory(string? path, string field, ConfigErrors errors)
    {
        path = NotEmpty(path, field, errors);
        if (path is not null && !Path.IsPathRooted(path))
        {
            errors.Add(field, $"'{path}' is not an absolute path");
            return null;
        }
        return path;
    }

    private static (SwitchSpec, SpecPaths) MapSpec(ConfigDocument document, ConfigErrors errors)
    {
        ImmutableArray<PortSpec> ports = [.. document.Ports.Select(p => MapPort(p, errors))];
        var vms = new List<VmSpec>();
        var vmPaths = new List<string>();
        foreach (TenantEntry tenant in document.Tenants)
        {
            foreach (VmEntry vm in tenant.Vms)
            {
                vms.Add(MapVm(vm, tenant.Name ?? "", errors));
                vmPaths.Add(vm.Path);
            }
        }

        var remoteVms = new List<RemoteVmSpec>();
        var remoteVmPaths = new List<string>();
        foreach (TenantEntry tenant in document.Tenants)
        {
            foreach (RemoteVmEntry vm in tenant.RemoteVms)
            {
                remoteVms.Add(MapRemoteVm(vm, tenant.Name ?? "", errors));
                remoteVmPaths.Add(vm.Path);
            }
        }

        var spec = new SwitchSpec(
            [.. document.Tenants.Select(t => new TenantSpec(t.Name ?? "", t.Vni is int vni ? (uint)vni : null))],
            ports,
            [.. vms])
        {
            Overlay = document.Overlay is { } overlay ? MapOverlay(overlay, errors) : null,
            RemoteVms = [.. remoteVms],
        };
        var paths = new SpecPaths(document.Tenants.Select(t => t.Path).ToArray(), document.Ports.Select(p => p.Path).ToArray(), vmPaths, remoteVmPaths);
        return (spec, paths);
    }

    // One port, VM or remote VM: the file's entries and the control socket's add requests
    // (ControlRequests) both map through these, so their defaults and messages are the same.

    public static PortSpec MapPort(PortEntry port, ConfigErrors errors) =>
        new(port.Name ?? "", port.Devargs ?? "", MapRole(port, errors), port.Mtu ?? PortSpec.DefaultMtu, port.Queues ?? DefaultQueues)
        {
            VhostUser = port.VhostUser is { } vhost ? MapVhostUser(vhost, errors) : null,
        };

    private static VhostUserSpec MapVhostUser(VhostUserEntry vhost, ConfigErrors errors)
    {
        VhostUserMode mode = VhostUserMode.Server;
        switch (vhost.Mode)
        {
            case null or "server":
                break;
            case "client":
                mode = VhostUserMode.Client;
                break;
            default:
                errors.Add(PathOf(vhost.Path, "mode"), $"'{vhost.Mode}' is not a vhost-user mode (server: vswitchd listens; client: vswitchd connects to the VMM's socket)");
                break;
        }
        if (vhost.Socket is null)
            errors.Required(PathOf(vhost.Path, "socket"));
        return new VhostUserSpec(vhost.Socket ?? "", mode);
    }

    public static VmSpec MapVm(VmEntry vm, string tenant, ConfigErrors errors) =>
        new(vm.Name ?? "", tenant, vm.Port ?? "", ParseMac(vm.Mac, PathOf(vm.Path, "mac"), errors),
            MapAddresses(vm.Ipv4, PathOf(vm.Path, "ipv4"), Ipv4.ParseAddress, "is not an IPv4 address (four decimal octets such as 10.0.0.1)", errors),
            MapAddresses(vm.Ipv6, PathOf(vm.Path, "ipv6"), Ipv6.ParseAddress, "is not an IPv6 address (such as fd00::1)", errors))
        {
            AllowRouting = vm.AllowRouting ?? false,
            FloodRatePps = vm.FloodRatePps ?? VmSpec.DefaultFloodRatePps,
            FloodBurst = vm.FloodBurst ?? VmSpec.DefaultFloodBurst,
        };

    public static RemoteVmSpec MapRemoteVm(RemoteVmEntry vm, string tenant, ConfigErrors errors) =>
        new(vm.Name ?? "", tenant, vm.Host ?? "", ParseMac(vm.Mac, PathOf(vm.Path, "mac"), errors),
            MapAddresses(vm.Ipv4, PathOf(vm.Path, "ipv4"), Ipv4.ParseAddress, "is not an IPv4 address (four decimal octets such as 10.0.0.1)", errors))
        {
            AllowRouting = vm.AllowRouting ?? false,
        };

    /// <summary>A field of the entry at <paramref name="entry"/>; a request is an entry at the top level, "".</summary>
    private static string PathOf(string entry, string field) => entry.Length == 0 ? field : $"{entry}.{field}";

    /// <summary>Parses the overlay's text fields; what the values must satisfy is SpecValidator's.</summary>
    private static OverlaySpec MapOverlay(OverlaySection overlay, ConfigErrors errors)
    {
        string path = overlay.Path;
        if (overlay.Uplink is null)
            errors.Required($"{path}.uplink");
        (uint vtep, int prefix) = MapVtep(overlay.Vtep, $"{path}.vtep", errors);
        ulong? mac = overlay.Mac is null ? null : ParseMac(overlay.Mac, $"{path}.mac", errors);
        uint? gateway = overlay.Gateway is null ? null : ParseIpv4(overlay.Gateway, $"{path}.gateway", errors);
        var neighbours = overlay.StaticNeighbours.Select(n => new StaticNeighbourSpec(
            n.Ip is null ? Missing<uint>($"{n.Path}.ip", errors) : ParseIpv4(n.Ip, $"{n.Path}.ip", errors),
            ParseMac(n.Mac, $"{n.Path}.mac", errors)));
        var hosts = overlay.RemoteHosts.Select(h => new RemoteHostSpec(
            h.Name ?? "",
            h.Vtep is null ? Missing<uint>($"{h.Path}.vtep", errors) : ParseIpv4(h.Vtep, $"{h.Path}.vtep", errors),
            MapTunnel(h, errors),
            [.. h.GeneveOptions.Select(o => MapGeneveOption(o, errors))]));
        return new OverlaySpec(overlay.Uplink ?? "", vtep, prefix, mac, gateway, overlay.Ttl ?? OverlaySpec.DefaultTtl,
            overlay.NeighbourTimeoutS ?? OverlaySpec.DefaultNeighbourTimeoutSeconds, [.. neighbours], [.. hosts]);
    }

    private static T Missing<T>(string path, ConfigErrors errors) where T : struct
    {
        errors.Required(path);
        return default;
    }

    private static (uint Address, int PrefixLength) MapVtep(string? text, string path, ConfigErrors errors)
    {
        if (text is null)
            return (Missing<uint>(path, errors), 0);
        string[] parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prefix)
            && prefix is >= 1 and <= 32 && parts[1].Length <= 2)
        {
            try
            {
                return (Ipv4.ParseAddress(parts[0]), prefix);
            }
            catch (FormatException)
            {
            }
        }
        errors.Add(path, $"'{text}' is not an IPv4 address with a prefix length (such as 192.168.50.1/24, prefix 1..32)");
        return (0, 0);
    }

    private static TunnelType MapTunnel(RemoteHostEntry host, ConfigErrors errors)
    {
        // The placeholder for a bad or missing tunnel: the type its options imply, so they raise no second error.
        TunnelType placeholder = host.GeneveOptions.Count > 0 ? TunnelType.Geneve : TunnelType.Vxlan;
        switch (host.Tunnel)
        {
            case "vxlan":
                return TunnelType.Vxlan;
            case "geneve":
                return TunnelType.Geneve;
            case null:
                errors.Required($"{host.Path}.tunnel");
                return placeholder;
            default:
                errors.Add($"{host.Path}.tunnel", $"'{host.Tunnel}' is not a tunnel type (vxlan or geneve)");
                return placeholder;
        }
    }

    private static GeneveOption MapGeneveOption(GeneveOptionEntry option, ConfigErrors errors)
    {
        int optionClass = option.Class ?? Missing<int>($"{option.Path}.class", errors);
        int type = option.Type ?? Missing<int>($"{option.Path}.type", errors);
        errors.InRange($"{option.Path}.class", optionClass, 0, 0xFFFF);
        errors.InRange($"{option.Path}.type", type, 0, 0xFF);
        byte[] data = [];
        string dataPath = $"{option.Path}.data";
        try
        {
            data = Convert.FromHexString(option.Data ?? "");
        }
        catch (FormatException)
        {
            errors.Add(dataPath, $"'{option.Data}' is not hex (two digits per byte, such as 0011223344556677)");
        }
        if (data.Length % 4 != 0 || data.Length > Geneve.MaxOptionDataLength)
            errors.Add(dataPath, $"{data.Length} bytes; option data is a multiple of 4 bytes, at most {Geneve.MaxOptionDataLength} (RFC 8926 section 3.5)");
        return new GeneveOption((ushort)optionClass, (byte)type, data);
    }

    private static uint ParseIpv4(string text, string path, ConfigErrors errors)
    {
        try
        {
            return Ipv4.ParseAddress(text);
        }
        catch (FormatException)
        {
            errors.Add(path, $"'{text}' is not an IPv4 address (four decimal octets such as 192.168.50.2)");
            return 0;
        }
    }

    private static ulong ParseMac(string? text, string path, ConfigErrors errors)
    {
        if (text is null)
            errors.Required(path);
        else if (MacAddress.TryParse(text, out ulong mac))
            return mac;
        else
            errors.Add(path, $"'{text}' is not a MAC address (six hex octets such as 02:00:00:00:00:01)");
        return 0; // the all-zero placeholder
    }

    private static PortRole MapRole(PortEntry port, ConfigErrors errors)
    {
        switch (port.Role)
        {
            case null or "vm":
                return PortRole.Vm;
            case "uplink":
                return PortRole.Uplink;
            default:
                errors.Add(PathOf(port.Path, "role"), $"'{port.Role}' is not a port role (vm or uplink)");
                return PortRole.Vm;
        }
    }

    private static ImmutableArray<T> MapAddresses<T>(IReadOnlyList<string?> texts, string path, Func<string, T> parse, string notAnAddress, ConfigErrors errors)
        where T : struct
    {
        var addresses = ImmutableArray.CreateBuilder<T>(texts.Count);
        for (int i = 0; i < texts.Count; i++)
        {
            T address = default; // the unspecified address (0.0.0.0, ::) as placeholder
            try
            {
                if (texts[i] is { } text)
                    address = parse(text);
            }
            catch (FormatException)
            {
                errors.Add($"{path}[{i}]", $"'{texts[i]}' {notAnAddress}");
            }
            addresses.Add(address);
        }
        return addresses.MoveToImmutable();
    }

    private static string? NotEmpty(string? value, string path, ConfigErrors errors)
    {
        if (value is "")
            errors.Add(path, "is empty; leave the field out instead");
        return value is "" ? null : value;
    }

    private static int InRange(int value, string path, int min, int max, ConfigErrors errors)
    {
        errors.InRange(path, value, min, max);
        return value;
    }
}
