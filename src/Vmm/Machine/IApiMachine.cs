// What the API socket does to a VM; VirtualMachine implements it, and tests serve the API
// without KVM through a stand-in.

namespace VSwitch.Vmm.Machine;

public interface IApiMachine
{
    MachineState State { get; }

    bool Pause();

    bool Resume();

    void RequestStop(VmOutcome outcome);

    VmStatistics Statistics();
}
