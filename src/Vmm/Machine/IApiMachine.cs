// What the API socket does to a VM; VirtualMachine implements it, and tests serve the API
// without KVM through a stand-in.

namespace VSwitch.Vmm.Machine;

public interface IApiMachine
{
    MachineState State { get; }

    bool Pause();

    bool Resume();

    void RequestStop(VmOutcome outcome);

    /// <summary>Presses the ACPI power button; false when the VM is not running.</summary>
    bool PressPowerButton();

    /// <summary>Completes with the outcome of the first stop request.</summary>
    Task<VmOutcome> Outcome { get; }

    VmStatistics Statistics();
}
