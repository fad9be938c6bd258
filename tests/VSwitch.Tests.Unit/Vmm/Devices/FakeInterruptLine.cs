using VSwitch.Vmm.Devices.Bus;

namespace VSwitch.Tests.Unit.Vmm.Devices;

/// <summary>Records every level a device drives, so tests see edges, not just the final state.</summary>
internal sealed class FakeInterruptLine : IInterruptLine
{
    public List<bool> Levels { get; } = [];
    public bool Level => Levels.Count > 0 && Levels[^1];
    public int RisingEdges => Levels.Count(l => l);
    public void Set(bool asserted) => Levels.Add(asserted);
}
