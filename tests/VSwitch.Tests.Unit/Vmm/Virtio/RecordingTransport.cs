// A transport that records what a device asked of it, for device tests without virtio-mmio.
using VSwitch.Vmm.Devices.Virtio;

namespace VSwitch.Tests.Unit.Vmm.Virtio;

internal sealed class RecordingTransport : IVirtioTransport
{
    public int Interrupts;
    public List<string> Resets { get; } = [];
    public void SignalUsedBuffers() => Interrupts++;
    public void SignalConfigChange() { }
    public void NeedsReset(string why) => Resets.Add(why);
}
