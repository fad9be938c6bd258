// What the launch plan's tests share: a desired state that uses every part of the plan (two
// tenants with the same MAC and address, a VM with two NICs and two volumes, a VM without NICs,
// a tenant without VMs, a remote host on the VTEP's prefix and one behind the gateway, remote VMs
// of tenants with NICs here and one of the tenant without), a host with an uplink and one
// without, and the product's own readers of what the plans compile.
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using VSwitch.Dataplane.Config;

namespace VSwitch.Tests.Unit.Control.Agent.Plan;

public static class PlanFixture
{
    public const string Runtime = "/run/vswitch";
    public const string Pool = "/var/lib/vswitch/pool";

    public static Vm RedWeb { get; } = new("red-web", "red", Vcpus: 2, MemoryMib: 512, "/images/bzImage", "/images/initrd.cpio", "quiet",
        Nics: [new Nic("02:00:00:00:00:01", ["10.0.0.5", "10.0.0.6"]), new Nic("02:00:00:00:00:02", ["10.0.1.5"], Prefix: 16)],
        Volumes: ["red-root", "red-data"]);

    /// <summary>The same MAC and address as red-web's first NIC, in another tenant.</summary>
    public static Vm BlueWeb { get; } = new("blue-web", "blue", Vcpus: 1, MemoryMib: 256, "/images/bzImage",
        Nics: [new Nic("02:00:00:00:00:01", ["10.0.0.5"])]);

    public static Vm RedDb { get; } = new("red-db", "red", Vcpus: 1, MemoryMib: 128, "/images/bzImage");

    public static RemoteVm RedCache { get; } = new("red-cache", "red", "east", "02:00:00:00:00:0c", ["10.0.0.12", "10.0.0.13"]);

    public static RemoteVm BlueApi { get; } = new("blue-api", "blue", "west", "02:00:00:00:00:0b", ["10.0.0.11"]);

    /// <summary>Of green, which has no VM here: left out of vswitchd's plan.</summary>
    public static RemoteVm GreenDb { get; } = new("green-db", "green", "east", "02:00:00:00:00:0d", []);

    /// <summary>Declared after what it holds: static initialisers run in the order written.</summary>
    public static DesiredState State { get; } = new(
        [new Tenant("red", 100), new Tenant("blue", 200), new Tenant("green", 300)],
        [RedWeb, BlueWeb, RedDb],
        [new Volume("red-root", 1024, "red-web"), new Volume("red-data", 2048, "red-web"), new Volume("spare", 64)],
        [new RemoteHost("west", "10.9.0.1", "geneve"), new RemoteHost("east", "192.168.50.2")],
        [RedCache, BlueApi, GreenDb]);

    /// <summary>An uplink, a VTEP on 192.168.50.0/24, a gateway with a pinned MAC, a volume pool.</summary>
    public static HostSettings Uplinked { get; } = new(Runtime)
    {
        Vswitchd = new VswitchdSettings(
            EalArgs: ["-l", "0-1", "--no-huge", "-m", "512", "--no-pci"],
            WorkerCores: [1],
            ControlGroup: "0",
            Uplink: new UplinkSettings("net_af_packet0,iface=eth1", "192.168.50.1/24", Mac: "02:aa:00:00:00:01",
                Gateway: "192.168.50.254", StaticNeighbours: [new StaticNeighbour("192.168.50.254", "02:bb:00:00:00:01")])),
        Vmm = new VmmSettings(Pool),
    };

    /// <summary>One host alone: no uplink, nothing but the runtime directory and the pool.</summary>
    public static HostSettings Alone { get; } = new(Runtime) { Vmm = new VmmSettings(Pool) };

    /// <summary>vswitchd's configuration for the state, as vswitchd itself loads it.</summary>
    public static DaemonConfig LoadVswitchd(DesiredState state, HostSettings host) =>
        ConfigLoader.Parse(VswitchdPlan.Compile(state, host), ConfigFormat.Yaml);

    /// <summary>The VM's vmm spec, as vmm itself parses it.</summary>
    public static VSwitch.Vmm.Spec.VmSpec LoadVmm(Vm vm, DesiredState state, HostSettings host) =>
        VSwitch.Vmm.Spec.VmSpec.Parse(VmmPlan.Compile(vm, state, host), "vm.json", "/");

    /// <summary>A VM with a name of the agent's longest (63 characters) that starts as <paramref name="stem"/>.</summary>
    public static string LongName(string stem) => stem + new string('x', 63 - stem.Length);
}
