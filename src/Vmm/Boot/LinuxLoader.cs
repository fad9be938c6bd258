// Loads a bzImage kernel, an initramfs and a command line into guest memory and fills everything
// the 64-bit boot protocol needs (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"):
// the zero page, identity page tables, GDT/IDT, ACPI tables; returns the boot CPU's registers.
using VSwitch.Vmm.Acpi;
using VSwitch.Vmm.Kvm;

namespace VSwitch.Vmm.Boot;

public static class LinuxLoader
{
    /// <summary>
    /// Writes the boot image into <paramref name="memory"/> (created from <paramref name="map"/>'s
    /// RamRegions) and returns the state for the boot vCPU. <paramref name="initramfs"/> empty
    /// means none. Throws <see cref="LinuxBootException"/> naming the input that does not fit.
    /// </summary>
    public static BootCpuState Load(GuestMemory memory, E820Map map, ReadOnlySpan<byte> kernel, ReadOnlySpan<byte> initramfs,
        string commandLine, int vcpuCount, IReadOnlyList<VirtioMmioAcpiDevice>? virtioMmioDevices = null) =>
        throw new NotImplementedException();
}
