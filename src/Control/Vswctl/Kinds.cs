// The kinds of resource vswctl manages (Api/Resources.cs): for each, the fields it prints and the
// options of its create verb. Options map one to one onto the request's fields; the agent checks
// their values and ranges (one place for each rule), so vswctl checks only what it must to build
// the request: types, required options, and the --nic syntax.
using System.CommandLine;
using VSwitch.Control.Api;

namespace VSwitch.Control.Vswctl;

internal static class Kinds
{
    public static readonly ResourceVerbs<Tenant> Tenants = new("tenant", "tenant", Routes.Tenants,
    [
        new("name", t => t.Name),
        new("vni", t => $"{t.Vni}"),
    ]);

    public static readonly ResourceVerbs<Volume> Volumes = new("volume", "volume", Routes.Volumes,
    [
        new("name", v => v.Name),
        new("size_mib", v => $"{v.SizeMib}"),
        new("vm", v => v.Vm),
    ]);

    public static readonly ResourceVerbs<RemoteHost> Hosts = new("host", "remote host", Routes.Hosts,
    [
        new("name", h => h.Name),
        new("vtep", h => h.Vtep),
        new("tunnel", h => h.Tunnel),
    ]);

    public static readonly ResourceVerbs<RemoteVm> RemoteVms = new("remote-vm", "remote VM", Routes.RemoteVms,
    [
        new("name", v => v.Name),
        new("tenant", v => v.Tenant),
        new("host", v => v.Host),
        new("mac", v => v.Mac),
        new("ipv4", v => string.Join(',', v.Ipv4 ?? [])),
    ]);

    public static readonly ResourceVerbs<Vm> Vms = new("vm", "VM", Routes.Vms,
    [
        new("name", v => v.Name),
        new("tenant", v => v.Tenant),
        new("vcpus", v => $"{v.Vcpus}"),
        new("memory_mib", v => $"{v.MemoryMib}"),
        new("power", v => v.Power),
        new("cpu_weight", v => $"{v.CpuWeight}", Listed: false),
        new("cpu_max_percent", v => $"{v.CpuMaxPercent}", Listed: false),
        new("kernel", v => v.Kernel, Listed: false),
        new("initramfs", v => v.Initramfs, Listed: false),
        new("cmdline", v => v.Cmdline, Listed: false),
        new("nics", v => string.Join(' ', (v.Nics ?? []).Select(NicSyntax.Format))),
        new("volumes", v => string.Join(',', v.Volumes ?? [])),
    ]);

    public static readonly Field<Capacity>[] CapacityFields =
    [
        new("cpus", c => $"{c.Cpus}"),
        new("memory_mib", c => $"{c.MemoryMib}"),
        new("vcpu_overcommit", c => $"{c.VcpuOvercommit}"),
        new("vcpus_used", c => $"{c.VcpusUsed}"),
        new("memory_mib_used", c => $"{c.MemoryMibUsed}"),
    ];

    public static Command Tenant(AgentVerbs verbs)
    {
        var vni = new Option<uint>("--vni") { HelpName = "N", Description = "the tenant's VXLAN/GENEVE network identifier, 1..16777215, unique on the host", Required = true };
        return Tenants.Command(verbs, "Tenants: isolated networks of VMs, each carried between hosts under its own VNI", [vni],
            (parse, name) => new Tenant(name, parse.GetValue(vni)));
    }

    public static Command Volume(AgentVerbs verbs)
    {
        var size = new Option<long>("--size-mib") { HelpName = "N", Description = "its size in MiB, 1..16777216 (16 TiB)", Required = true };
        return Volumes.Command(verbs, "Volumes: block devices from the host's pool, each attached to at most one VM", [size],
            (parse, name) => new Volume(name, parse.GetValue(size)));
    }

    public static Command Host(AgentVerbs verbs)
    {
        var vtep = new Option<string>("--vtep") { Description = "the host's VTEP IPv4 address on the underlay", HelpName = "A.B.C.D", Required = true };
        var tunnel = new Option<string>("--tunnel") { Description = "the encapsulation its tunnels use (default: vxlan)" }.AcceptOnlyFromAmong("vxlan", "geneve");
        return Hosts.Command(verbs, "Remote hosts: the other hosts of the overlay, where tenants' remote VMs live", [vtep, tunnel], (parse, name) =>
        {
            var host = new RemoteHost(name, parse.GetValue(vtep)!);
            return parse.GetValue(tunnel) is { } given ? host with { Tunnel = given } : host;
        });
    }

    public static Command RemoteVm(AgentVerbs verbs)
    {
        var tenant = new Option<string>("--tenant") { Description = "the tenant whose network the VM is on", Required = true };
        var host = new Option<string>("--host") { Description = "the remote host it runs on", Required = true };
        var mac = new Option<string>("--mac") { Description = "its NIC's MAC, unique within the tenant", HelpName = "MAC", Required = true };
        var ips = new Option<string[]>("--ip") { Description = "an IPv4 address it sends from, unique within the tenant; repeat for more", HelpName = "A.B.C.D" };
        return RemoteVms.Command(verbs, "Remote VMs: tenants' VMs on the remote hosts, one per NIC, which this host's VMs reach through the overlay",
            [tenant, host, mac, ips], (parse, name) =>
            {
                string[] given = parse.GetValue(ips) ?? [];
                return new RemoteVm(name, parse.GetValue(tenant)!, parse.GetValue(host)!, parse.GetValue(mac)!, given.Length == 0 ? null : given);
            });
    }

    public static Command Vm(AgentVerbs verbs)
    {
        var tenant = new Option<string>("--tenant") { Description = "the tenant whose network the VM's NICs join", Required = true };
        var vcpus = new Option<int>("--vcpus") { HelpName = "N", Description = "its number of vCPUs", Required = true };
        var memory = new Option<int>("--memory-mib") { HelpName = "N", Description = "its RAM in MiB (never overcommitted)", Required = true };
        var kernel = PathOption("--kernel", "the guest's kernel (bzImage or ELF vmlinux)", required: true);
        var initramfs = PathOption("--initramfs", "its initramfs", required: false);
        var cmdline = new Option<string>("--cmdline") { Description = "the kernel command line; the agent adds the console and the NICs' addresses", HelpName = "TEXT" };
        var nics = NicSyntax.Option();
        var volumes = new Option<string[]>("--volume") { Description = "a volume to attach as a virtio-blk disk (vda, vdb, ... in order); repeat for more", HelpName = "NAME" };
        (Option<int?> weight, Option<int?> max) = CpuOptions();
        var stopped = new Option<bool>("--stopped") { Description = "create it stopped (power state \"stopped\"): its volumes are made, its vmm is not started until 'vm start'" };
        Command command = Vms.Command(verbs, "VMs of tenants on this host", [tenant, vcpus, memory, kernel, initramfs, cmdline, nics, volumes, weight, max, stopped], (parse, name) =>
        {
            Nic[] nicsGiven = parse.GetValue(nics) ?? [];
            string[] volumesGiven = parse.GetValue(volumes) ?? [];
            var vm = new Vm(name, parse.GetValue(tenant)!, parse.GetValue(vcpus), parse.GetValue(memory), parse.GetValue(kernel)!,
                parse.GetValue(initramfs), parse.GetValue(cmdline), nicsGiven.Length == 0 ? null : nicsGiven, volumesGiven.Length == 0 ? null : volumesGiven,
                CpuMaxPercent: parse.GetValue(max), Power: parse.GetValue(stopped) ? PowerStates.Stopped : PowerStates.Running);
            return parse.GetValue(weight) is { } given ? vm with { CpuWeight = given } : vm;
        });
        command.Subcommands.Add(SetCpu(verbs));
        command.Subcommands.Add(SetPower(verbs, "start", PowerStates.Running, "Start a stopped VM (power state \"running\"): the agent starts its vmm within a second"));
        command.Subcommands.Add(SetPower(verbs, "stop", PowerStates.Stopped,
            "Stop a VM (power state \"stopped\"): its guest gets the ACPI power button and 30 s to power off, then is stopped hard; volumes, ports and reservations stay"));
        command.Subcommands.Add(SetPower(verbs, "pause", PowerStates.Paused, "Pause a running VM (power state \"paused\"): its vCPUs stop, its memory and devices stay"));
        command.Subcommands.Add(SetPower(verbs, "resume", PowerStates.Running, "Resume a paused VM (power state \"running\")"));
        return command;
    }

    /// <summary>vm start|stop|pause|resume NAME: sets the VM's power state; prints the VM.</summary>
    private static Command SetPower(AgentVerbs verbs, string verb, string state, string description)
    {
        var name = new Argument<string>("NAME") { Description = "the VM's name" };
        var command = new Command(verb, $"{description}. Prints the VM") { name };
        verbs.SetAction(command, async (parse, agent, printer, ct) =>
            printer.Show(await agent.PutAsync<VmPower, Vm>(Routes.VmPower(parse.GetValue(name)!), new VmPower(state), ct).ConfigureAwait(false), Vms.Fields));
        return command;
    }

    /// <summary>vm set-cpu NAME: a running VM's CPU weight and cap, both replaced (an option left out takes its default).</summary>
    private static Command SetCpu(AgentVerbs verbs)
    {
        var name = new Argument<string>("NAME") { Description = "the VM's name" };
        (Option<int?> weight, Option<int?> max) = CpuOptions();
        var setCpu = new Command("set-cpu", "Replace a VM's CPU weight and cap; its running vmm's cgroup follows within a second. Prints the VM") { name, weight, max };
        verbs.SetAction(setCpu, async (parse, agent, printer, ct) =>
        {
            var cpu = new VmCpu(parse.GetValue(weight) ?? new VmCpu().CpuWeight, parse.GetValue(max));
            printer.Show(await agent.PutAsync<VmCpu, Vm>(Routes.VmCpu(parse.GetValue(name)!), cpu, ct).ConfigureAwait(false), Vms.Fields);
        });
        return setCpu;
    }

    private static (Option<int?> Weight, Option<int?> Max) CpuOptions() => (
        new Option<int?>("--cpu-weight") { HelpName = "N", Description = "cgroup cpu.weight of its vCPU threads, 1..10000 (default: 100, an equal share)" },
        new Option<int?>("--cpu-max-percent") { HelpName = "N", Description = "cgroup cpu.max as a share of one CPU, 1..100 × vcpus (default: no cap)" });

    public static Command Capacity(AgentVerbs verbs)
    {
        var capacity = new Command("capacity", "What the host can give VMs (CPUs, memory, vCPU overcommit) and how much of it VMs hold");
        verbs.SetAction(capacity, async (_, agent, printer, ct) =>
            printer.Show(await agent.GetAsync<Capacity>(Routes.Capacity, ct).ConfigureAwait(false), CapacityFields));
        return capacity;
    }

    /// <summary>
    /// A file the agent opens: it resolves paths against its own working directory, not the
    /// operator's, so a relative path is made absolute here, against the directory vswctl runs in.
    /// </summary>
    private static Option<string> PathOption(string name, string description, bool required) => new(name)
    {
        Description = $"{description}; a relative path is taken from the current directory",
        HelpName = "PATH",
        Required = required,
        CustomParser = result =>
        {
            string path = result.Tokens[0].Value;
            try
            {
                return Path.GetFullPath(path);
            }
            catch (ArgumentException)
            {
                result.AddError($"{name} needs a path, not '{path}'");
                return null;
            }
        },
    };
}
