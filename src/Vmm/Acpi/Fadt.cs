// Fixed ACPI Description Table, revision 6 (ACPI 6.4 section 5.2.9, table 5.9), 276 bytes.
// A full (not hardware-reduced) FADT, because a stock Linux kernel then both
//  - powers off through the PM1a control register: acpi_hw_legacy_sleep writes SLP_TYP (from
//    the DSDT's \_S5) and then SLP_TYP|SLP_EN to PM1a_CNT_BLK, an I/O port the VMM traps;
//  - keeps the legacy PC platform (PIT and PIC are set up; x86's acpi_reduced_hw_init would
//    skip the timer init and the legacy PIC in hardware-reduced mode);
// and resets through RESET_REG (section 4.8.3.6). SMI_CMD is 0: the platform is always in ACPI
// mode (section 4.8.2.1), so the OS never tries an SMI handshake. The fixed power button
// (section 4.8.2.2.1) is offered, by leaving the PWR_BUTTON flag clear: the VMM's graceful stop
// presses it, and the SCI (SCI_INT) is raised for it alone. No fixed sleep button, no RTC wake,
// no PM timer (optional since ACPI 5.0A), no GPE blocks. The port numbers are in AcpiPorts.
using System.Buffers.Binary;

namespace VSwitch.Vmm.Acpi;

internal static class Fadt
{
    public const int Length = 276;
    public const byte Revision = 6;
    public const byte MinorVersion = 4;

    // Field offsets (table 5.9).
    public const int FirmwareCtrl = 36, Dsdt = 40, PreferredPmProfile = 45, SciInt = 46, SmiCmd = 48,
        Pm1aEvtBlk = 56, Pm1aCntBlk = 64, Pm1EvtLen = 88, Pm1CntLen = 89, IapcBootArch = 109, Flags = 112,
        ResetReg = 116, ResetValue = 128, FadtMinorVersion = 131, XFirmwareCtrl = 132, XDsdt = 140,
        XPm1aEvtBlk = 148, XPm1aCntBlk = 172, HypervisorVendorIdentity = 268;

    // IA-PC boot architecture flags (table 5.10).
    public const ushort LegacyDevices = 1 << 0; // ISA devices (COM1) the OS cannot enumerate otherwise
    public const ushort Has8042 = 1 << 1;       // i8042 at 0x60/0x64
    public const ushort VgaNotPresent = 1 << 2;
    public const ushort CmosRtcNotPresent = 1 << 5; // no RTC at 0x70/0x71: the kernel uses kvm-clock

    // Fixed feature flags (table 5.10).
    public const uint Wbinvd = 1 << 0;
    public const uint ProcC1 = 1 << 2;
    public const uint PwrButton = 1 << 4;  // no fixed power button (clear here: there is one)
    public const uint SlpButton = 1 << 5;  // no fixed sleep button
    public const uint FixRtc = 1 << 6;     // no RTC wake status in the fixed registers
    public const uint ResetRegSup = 1 << 10;
    public const uint HwReducedAcpi = 1 << 20;

    public const uint FeatureFlags = Wbinvd | ProcC1 | SlpButton | FixRtc | ResetRegSup;
    public const ushort BootArchitecture = LegacyDevices | Has8042 | VgaNotPresent | CmosRtcNotPresent;

    public static byte[] Build(ulong facsAddress, ulong dsdtAddress)
    {
        if (facsAddress > uint.MaxValue || dsdtAddress > uint.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(facsAddress), "the FACS and DSDT must be below 4 GiB (the FADT has 32-bit fields for them)");
        byte[] fadt = SystemDescriptionTable.Create("FACP", Length, Revision);
        Span<byte> t = fadt;
        // Both the 32-bit and the X_ pointers, equal: OSes that read either find the same table.
        BinaryPrimitives.WriteUInt32LittleEndian(t[FirmwareCtrl..], (uint)facsAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Dsdt..], (uint)dsdtAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(t[XFirmwareCtrl..], facsAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(t[XDsdt..], dsdtAddress);
        t[PreferredPmProfile] = 0; // unspecified
        BinaryPrimitives.WriteUInt16LittleEndian(t[SciInt..], AcpiPorts.SciInterrupt);
        BinaryPrimitives.WriteUInt32LittleEndian(t[SmiCmd..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Pm1aEvtBlk..], AcpiPorts.Pm1aEvent);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Pm1aCntBlk..], AcpiPorts.Pm1aControl);
        t[Pm1EvtLen] = AcpiPorts.Pm1EventLength;
        t[Pm1CntLen] = AcpiPorts.Pm1ControlLength;
        GenericAddress.IoPort(AcpiPorts.Pm1aEvent, AcpiPorts.Pm1EventLength, GenericAddress.WordAccess).Write(t[XPm1aEvtBlk..]);
        GenericAddress.IoPort(AcpiPorts.Pm1aControl, AcpiPorts.Pm1ControlLength, GenericAddress.WordAccess).Write(t[XPm1aCntBlk..]);
        BinaryPrimitives.WriteUInt16LittleEndian(t[IapcBootArch..], BootArchitecture);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Flags..], FeatureFlags);
        GenericAddress.IoPort(AcpiPorts.ResetRegister, 1, GenericAddress.ByteAccess).Write(t[ResetReg..]);
        t[ResetValue] = AcpiPorts.ResetValue;
        t[FadtMinorVersion] = MinorVersion;
        SystemDescriptionTable.Ascii(fadt, HypervisorVendorIdentity, "VSWITCH ", 8);
        SystemDescriptionTable.SetChecksum(fadt, SystemDescriptionTable.ChecksumOffset);
        return fadt;
    }
}
