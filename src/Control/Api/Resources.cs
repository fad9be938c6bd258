// The resources of the host agent's API (docs/agent.md): what an operator asks to exist on a
// host. Every one is desired state: the agent stores it before it acts on it. JSON names are
// snake_case (AgentJson); a field left out of a create request takes the default written here.
namespace VSwitch.Control.Api;

/// <summary>A tenant: an isolated network of VMs, carried between hosts under its own VNI.</summary>
/// <param name="Name">Lower-case letters, digits and '-', 1 to 63 characters, starting with a letter or digit (as every resource name).</param>
/// <param name="Vni">The tenant's 24-bit VXLAN/GENEVE network identifier, 1..16777215, unique on the host.</param>
public sealed record Tenant(string Name, uint Vni);

/// <summary>One virtio-net NIC of a VM, attached to vswitchd over vhost-user.</summary>
/// <param name="Mac">A unicast MAC, "02:00:00:00:00:01", unique within the tenant.</param>
/// <param name="Ipv4">The IPv4 addresses the VM may send from ("10.0.0.5"), each unique within the tenant; the first is given to the guest.</param>
/// <param name="Prefix">The prefix length of the tenant network the first address is in, 1..32.</param>
public sealed record Nic(string Mac, IReadOnlyList<string> Ipv4, int Prefix = 24);

/// <summary>A VM of a tenant on this host.</summary>
/// <param name="Kernel">Absolute path of the guest's kernel (bzImage or ELF vmlinux).</param>
/// <param name="Initramfs">Absolute path of its initramfs, if any.</param>
/// <param name="Cmdline">Kernel command line; the agent adds the console and the NICs' addresses.</param>
/// <param name="Volumes">Names of volumes attached as virtio-blk disks, in order (vda, vdb, ...); each belongs to at most one VM.</param>
/// <param name="CpuWeight">cgroup v2 cpu.weight of the VM's vCPU threads, 1..10000 (100: an equal share).</param>
/// <param name="CpuMaxPercent">cgroup v2 cpu.max as a share of one CPU, 1..100 × vcpus; null: no cap.</param>
/// <param name="Power">What the VM should be doing (<see cref="PowerStates"/>): "running" (the default), "paused" or "stopped".</param>
public sealed record Vm(
    string Name,
    string Tenant,
    int Vcpus,
    int MemoryMib,
    string Kernel,
    string? Initramfs = null,
    string? Cmdline = null,
    IReadOnlyList<Nic>? Nics = null,
    IReadOnlyList<string>? Volumes = null,
    int CpuWeight = 100,
    int? CpuMaxPercent = null,
    string Power = PowerStates.Running);

/// <summary>A VM's power states (docs/agent.md, "Power"): what the operator asks, the agent keeps.</summary>
public static class PowerStates
{
    /// <summary>Its vmm runs and so do its vCPUs; a vmm that dies is started again.</summary>
    public const string Running = "running";
    /// <summary>Its vmm runs, every vCPU parked: memory, devices and connections stay, the guest does not run.</summary>
    public const string Paused = "paused";
    /// <summary>No vmm: the guest was asked to power off (ACPI power button), and stopped hard if it did not in time. Its volumes, ports and reservations stay.</summary>
    public const string Stopped = "stopped";

    public static readonly IReadOnlyList<string> All = [Running, Paused, Stopped];
}

/// <summary>A VM's power state, changeable at any time (PUT /v1/vms/{name}/power): start and resume are "running", pause "paused", stop "stopped".</summary>
public sealed record VmPower(string State);

/// <summary>A VM's CPU control, changeable while it runs (PUT /v1/vms/{name}/cpu): what <see cref="Vm.CpuWeight"/> and <see cref="Vm.CpuMaxPercent"/> say, both replaced.</summary>
/// <param name="CpuWeight">cgroup v2 cpu.weight, 1..10000 (100: an equal share).</param>
/// <param name="CpuMaxPercent">cgroup v2 cpu.max as a share of one CPU, 1..100 × the VM's vcpus; null: no cap.</param>
public sealed record VmCpu(int CpuWeight = 100, int? CpuMaxPercent = null);

/// <summary>A block volume from the host's pool, attached to at most one VM.</summary>
/// <param name="SizeMib">1..16777216 (16 TiB).</param>
/// <param name="Vm">The VM it is attached to (set by the VM's create, never by a request); null while free.</param>
public sealed record Volume(string Name, long SizeMib, string? Vm = null);

/// <summary>Another host of the overlay: where remote VMs of tenants live.</summary>
/// <param name="Vtep">The host's VTEP IPv4 address on the underlay.</param>
/// <param name="Tunnel">"vxlan" or "geneve".</param>
public sealed record RemoteHost(string Name, string Vtep, string Tunnel = "vxlan");

/// <summary>
/// A VM of a tenant that runs on a remote host: this host's VMs of the tenant reach it through the
/// overlay. One per NIC of that VM: each NIC is one MAC on the tenant's network.
/// </summary>
/// <param name="Host">The remote host it runs on.</param>
/// <param name="Mac">Its NIC's unicast MAC, unique within the tenant, this host's VMs' NICs included; frames from it must come from this MAC.</param>
/// <param name="Ipv4">The IPv4 addresses it sends from, each unique within the tenant; vswitchd answers ARP for them on this host.</param>
public sealed record RemoteVm(string Name, string Tenant, string Host, string Mac, IReadOnlyList<string>? Ipv4 = null);

/// <summary>What the host can give VMs: memory is never overcommitted; vCPUs up to VcpuOvercommit × Cpus.</summary>
public sealed record Capacity(int Cpus, long MemoryMib, double VcpuOvercommit, int VcpusUsed, long MemoryMibUsed);

/// <summary>What the agent runs and whether the daemons serve the desired state (GET /v1/status).</summary>
/// <param name="Children">Every process the agent supervises, by name; empty when it runs without --host-settings.</param>
/// <param name="Vswitchd">How far vswitchd is from the desired state; null when the agent runs without --host-settings (it only stores state).</param>
/// <param name="Vms">Whether every VM's volumes and vmm spec are ready; null when the agent runs no VMs (no vmm_binary in its host settings).</param>
public sealed record AgentStatus(IReadOnlyList<SupervisedChild> Children, VswitchdConvergence? Vswitchd, VmsConvergence? Vms = null);

/// <summary>One supervised process (docs/agent.md, "Supervision").</summary>
/// <param name="State">"running", "stopping" (SIGTERM sent) or "backing_off" (died or could not start; restarts at RestartAt).</param>
/// <param name="Pid">Its pid while it runs.</param>
/// <param name="StartCount">Starts since the agent first supervised it, those of earlier agents included when it was adopted.</param>
/// <param name="Adopted">Started by an earlier agent and adopted by this one.</param>
/// <param name="LastExit">How its last run ended, if one did.</param>
/// <param name="LastError">Why its last start failed, if it did.</param>
public sealed record SupervisedChild(string Name, string State, int? Pid, int StartCount, bool Adopted,
    DateTimeOffset? RestartAt = null, string? LastExit = null, string? LastError = null);

/// <summary>Whether vswitchd's live configuration (its `list`) matches the plan of the desired state.</summary>
/// <param name="Converged">At the last check, vswitchd held every planned port, VM and remote VM and nothing else, and the plan left nothing of the desired state out.</param>
/// <param name="LastError">Why the last check did not converge (vswitchd unreachable, an op refused, a restart under way, remote VMs on a host without an uplink); null when it did.</param>
/// <param name="CheckedAt">When the last check ended; null before the first.</param>
/// <param name="Config">The configuration file the agent writes for vswitchd.</param>
public sealed record VswitchdConvergence(bool Converged, string? LastError, DateTimeOffset? CheckedAt, string Config);

/// <summary>Whether every VM of the desired state has its volumes made and attached in the pool, its vmm spec written (its vmm is then a supervised child unless it is stopped) and its power state.</summary>
/// <param name="Problems">Why each VM that is not ready, or not in its desired power state, is not, one line per VM ("VM 'web-1': ..."); empty when all are.</param>
/// <param name="Power">What each VM is doing, by name, as its vmm said at the last pass: "running", "paused", "stopped" (no vmm), "stopping", "starting" (its vmm is being started or not answering yet) or "unknown" (its vmm answered nothing sensible; Problems says what).</param>
public sealed record VmsConvergence(bool Converged, IReadOnlyList<string> Problems, IReadOnlyDictionary<string, string>? Power = null);

/// <summary>
/// Every error the agent returns: HTTP 400 (a field is malformed), 404 (no such resource), 409
/// (the request conflicts with what exists), with the field it is about ("nics[0].mac") when
/// there is one, and a message that names it too.
/// </summary>
public sealed record ApiError(string Error, string? Field = null);
