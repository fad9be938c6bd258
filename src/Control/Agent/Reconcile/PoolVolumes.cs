// The desired state's volumes in the host's volume pool (docs/agent.md, "VMs and volumes"),
// through the same pool code every vmm opens its disks with (src/Vmm/Volumes/Pool), whose
// journal lock makes the agent's changes safe beside running VMMs. Each pass, for every volume:
//   - a pool volume of its name (PlanNames.PoolVolume) is made if missing; one that exists is
//     the volume, data and all (an image imported with `vmm volume import` becomes a VM's disk
//     this way), and grows to the asked size if it is smaller and no VMM uses it;
//   - it is attached read-write to its VM's vmm name, and every other attachment it has is
//     dropped (the pool refuses while a VMM still holds the volume; the next pass tries again).
// Pool volumes the desired state does not name are never touched, and a volume deleted through
// the API keeps its pool volume (`vmm volume delete` frees it): the agent destroys no data on
// its own, so a lost or replaced state file cannot wipe a host's disks.
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using VSwitch.Vmm.Volumes.Pool;

namespace VSwitch.Control.Agent.Reconcile;

public static class PoolVolumes
{
    /// <summary>
    /// Brings the pool to the desired volumes and attachments. Returns, per VM, why its volumes
    /// are not ready; a VM not in the answer has every volume made and attached.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Converge(DesiredState state, HostSettings host)
    {
        var problems = new Dictionary<string, string>(StringComparer.Ordinal);
        if (state.Volumes.Count == 0)
            return problems;
        if (host.Vmm.VolumePool is not { } folder)
        {
            foreach (Volume volume in state.Volumes.Where(v => v.Vm is not null))
                problems.TryAdd(volume.Vm!, $"volume '{volume.Name}': vmm.volume_pool is not set in the host settings, and volumes live in the host's volume pool");
            return problems;
        }
        VolumePool pool;
        try
        {
            pool = VolumePool.Open(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            foreach (Volume volume in state.Volumes.Where(v => v.Vm is not null))
                problems.TryAdd(volume.Vm!, $"volume pool {folder}: {e.Message} (make it with `vmm volume init --pool {folder} --size SIZE`)");
            return problems;
        }
        using (pool)
        {
            foreach (Volume volume in state.Volumes)
            {
                try
                {
                    Converge(pool, volume);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    problems.TryAdd(volume.Vm ?? "", $"volume '{volume.Name}' in pool {folder}: {e.Message}");
                }
            }
        }
        problems.Remove("");
        return problems;
    }

    private static void Converge(VolumePool pool, Volume volume)
    {
        string name = PlanNames.PoolVolume(volume.Name);
        long size = volume.SizeMib << 20;
        PoolVolumeInfo info = pool.State.Find(name) ?? pool.CreateVolume(name, size);
        if (info.External == ExternalKind.None && info.SizeBytes < size && !pool.InUse(info))
            pool.ResizeVolume(name, size);
        string? owner = volume.Vm is null ? null : PlanNames.Daemon(volume.Vm);
        foreach ((string vm, bool readOnly) in pool.State.Find(name)!.Attachments.Where(o => o.Vm != owner || o.ReadOnly).ToList())
            pool.Detach(name, vm);
        if (owner is not null && !pool.State.Find(name)!.Attachments.Any(o => o.Vm == owner))
            pool.Attach(name, owner, readOnly: false);
    }
}
