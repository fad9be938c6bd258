// A device reached through an address range of the port I/O or MMIO bus.
namespace VSwitch.Vmm.Devices.Bus;

/// <summary>
/// Register accesses at an offset into the device's range. Called on vCPU threads, possibly
/// several at once: a device guards its own state. Guests are hostile: offset and length are
/// whatever the guest's instruction produced (1, 2, 4 or 8 bytes, any offset inside the range).
/// </summary>
public interface IBusDevice
{
    /// <summary>Fills <paramref name="data"/> (already all-ones) with the register's value.</summary>
    void Read(ulong offset, Span<byte> data);

    void Write(ulong offset, ReadOnlySpan<byte> data);
}

/// <summary>A level an emulated device drives towards the interrupt controllers.</summary>
public interface IInterruptLine
{
    void Set(bool asserted);
}

/// <summary>
/// An edge-triggered interrupt: each Trigger reaches the guest as an interrupt that begins after
/// it (triggers close together may merge into one), so state set before Trigger is seen by the
/// guest's handler.
/// </summary>
public interface IInterruptTrigger
{
    void Trigger();
}
