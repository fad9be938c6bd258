// What the API socket does to a VM; VirtualMachine implements it, and tests serve the API
// without KVM through a stand-in.
using VSwitch.Vmm.Machine;

namespace VSwitch.Vmm.Api;

public interface IApiMachine
{
    MachineState State { get; }

    bool Pause();

    bool Resume();

    void RequestStop(VmOutcome outcome);
}
