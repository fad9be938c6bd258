// One VM's vmm spec (docs/vmm.md, "Spec file"), for `vmm run --spec`: the guest, its API socket,
// its NICs on the vhost-user sockets vswitchd's ports connect to (RuntimePaths, shared with
// VswitchdPlan), and its volumes as pool disks in the VM's order, the first the guest's vda.
using System.Text.Json.Nodes;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using static VSwitch.Control.Agent.Plan.PlanText;

namespace VSwitch.Control.Agent.Plan;

public static class VmmPlan
{
    /// <summary>The JSON text of <paramref name="vm"/>'s spec, to be written to <see cref="RuntimePaths.VmmSpec"/>.</summary>
    /// <exception cref="PlanException">A host setting the VM cannot run with, or a volume not attached to it in <paramref name="state"/>.</exception>
    public static string Compile(Vm vm, DesiredState state, HostSettings host)
    {
        host.Check();
        JsonObject spec = Object(
            // The name a pool volume's attachment names: the agent attaches with this one too.
            ("name", PlanNames.Daemon(vm.Name)),
            ("kernel", vm.Kernel),
            ("initramfs", vm.Initramfs),
            ("cmdline", KernelCmdline.For(vm)),
            ("memory_mib", vm.MemoryMib),
            ("vcpus", vm.Vcpus),
            ("api_socket", host.Paths.ApiSocket(vm.Name)),
            ("cgroup", host.Vmm.CgroupOf(vm.Name)),
            ("nics", Array((vm.Nics ?? []).Select((nic, i) => Object(
                ("socket", host.Paths.NicSocket(vm.Name, i)),
                ("mac", nic.Mac),
                ("mtu", host.NicMtu))))),
            ("disks", Array(Disks(vm, state, host))));
        return Json(spec);
    }

    /// <summary>disks[]: each volume by pool and name; its id (what the guest reads as the serial) defaults to that name.</summary>
    private static IEnumerable<JsonObject> Disks(Vm vm, DesiredState state, HostSettings host)
    {
        IReadOnlyList<string> volumes = vm.Volumes ?? [];
        for (int i = 0; i < volumes.Count; i++)
        {
            // The rules attach a VM's volumes with its create; a volume that is not its here is a
            // state the rules never wrote, and a disk must never be handed to a second VM.
            if (!state.Volumes.Any(v => v.Name == volumes[i] && v.Vm == vm.Name))
                throw new PlanException($"volumes[{i}]", $"volume '{volumes[i]}' is not attached to VM '{vm.Name}' in the desired state");
            string pool = host.Vmm.VolumePool
                ?? throw new PlanException("vmm.volume_pool", $"is required: VM '{vm.Name}' has volumes, and they live in the host's volume pool");
            yield return Object(("pool", pool), ("volume", PlanNames.PoolVolume(volumes[i])));
        }
    }
}
