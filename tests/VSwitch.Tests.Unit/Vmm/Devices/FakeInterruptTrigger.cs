using VSwitch.Vmm.Devices.Bus;

namespace VSwitch.Tests.Unit.Vmm.Devices;

/// <summary>Counts the interrupts a device triggers, and runs <see cref="OnTrigger"/> at each (to see the state the guest's handler would find).</summary>
internal sealed class FakeInterruptTrigger : IInterruptTrigger
{
    public int Triggers { get; private set; }
    public Action? OnTrigger { get; set; }

    public void Trigger()
    {
        Triggers++;
        OnTrigger?.Invoke();
    }
}
