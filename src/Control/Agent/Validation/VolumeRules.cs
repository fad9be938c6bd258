// A volume's create and delete (docs/agent.md, "Volumes"). A volume is attached by the create of
// the VM that lists it and freed by that VM's delete (VmRules), never by a request of its own.
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Validation;

public static class VolumeRules
{
    /// <summary>16 TiB: far beyond any one disk the pool gives, small enough that no size overflows in bytes.</summary>
    public const long MaxSizeMib = 16L * 1024 * 1024;

    public static (DesiredState After, Volume Stored) Create(Volume? request, DesiredState state)
    {
        Volume volume = Fields.Required(request, "body");
        Fields.Name(volume.Name);
        Fields.InRange(volume.SizeMib, 1, MaxSizeMib, "size_mib");
        if (volume.Vm is not null)
            throw Refusal.Malformed("vm", "is set by the create of the VM that lists the volume, not by a request");
        Kinds.Volume.ThrowIfTaken(volume.Name, state);
        return (state with { Volumes = [.. state.Volumes, volume] }, volume);
    }

    /// <summary>Refused while attached: the VM's disk would vanish under it.</summary>
    public static DesiredState Delete(string name, DesiredState state)
    {
        Volume volume = Kinds.Volume.Find(name, state);
        if (volume.Vm is not null)
            throw Refusal.Conflict("name", $"volume '{name}' is attached to VM '{volume.Vm}'; delete the VM first");
        return state with { Volumes = [.. state.Volumes.Where(v => v != volume)] };
    }
}
