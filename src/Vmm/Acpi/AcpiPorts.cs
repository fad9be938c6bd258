// The fixed-hardware ACPI registers the FADT points the guest at, all in I/O space (ACPI 6.4
// section 4.8 "ACPI Hardware Model", 4.8.3 "PM1 Event/Control Registers", 4.8.3.6 "Reset
// Register"). The VMM traps these ports; the port numbers follow QEMU's ICH9 PM block (0x600) so
// they collide with nothing a PC guest probes.
namespace VSwitch.Vmm.Acpi;

public static class AcpiPorts
{
    /// <summary>PM1a_EVT_BLK: PM1 status (2 bytes) then PM1 enable (2 bytes).</summary>
    public const ushort Pm1aEvent = 0x600;
    public const byte Pm1EventLength = 4;

    /// <summary>
    /// PM1_STS PWRBTN_STS and PM1_EN PWRBTN_EN (bit 8 of each, tables 4.13 and 4.14): the fixed
    /// power button was pressed, and the OS wants an SCI for it.
    /// </summary>
    public const ushort PowerButton = 1 << 8;

    /// <summary>
    /// PM1a_CNT_BLK (2 bytes). Linux powers off by writing SLP_TYP = <see cref="SleepTypeS5"/>
    /// and then the same with <see cref="SleepEnable"/>; see <see cref="IsPowerOff"/>.
    /// Reads should return <see cref="SciEnable"/> (the platform is always in ACPI mode).
    /// </summary>
    public const ushort Pm1aControl = 0x604;
    public const byte Pm1ControlLength = 2;

    /// <summary>PM1 control SCI_EN (bit 0): ACPI mode; SMI_CMD is 0, so the guest never switches.</summary>
    public const ushort SciEnable = 1 << 0;

    /// <summary>PM1 control SLP_TYP field: bits 12-10.</summary>
    public const int SleepTypeShift = 10;
    public const ushort SleepTypeMask = 0x7 << SleepTypeShift;

    /// <summary>PM1 control SLP_EN (bit 13): enter the sleep state in SLP_TYP.</summary>
    public const ushort SleepEnable = 1 << 13;

    /// <summary>SLP_TYP of S5 (soft off); the DSDT's \_S5 package says this value.</summary>
    public const byte SleepTypeS5 = 5;

    /// <summary>FADT RESET_REG: the PC reset control register (1 byte); writing <see cref="ResetValue"/> resets.</summary>
    public const ushort ResetRegister = 0xcf9;

    /// <summary>RESET_VALUE: "system reset" (bit 1) | "reset CPU" (bit 2), as on Intel chipsets.</summary>
    public const byte ResetValue = 0x06;

    /// <summary>SCI_INT: ISA IRQ 9, level-triggered active high (MADT override to GSI 9); raised for the power button.</summary>
    public const byte SciInterrupt = 9;

    /// <summary>True when a 16-bit write of <paramref name="value"/> to <see cref="Pm1aControl"/> asks for S5.</summary>
    public static bool IsPowerOff(ushort value) =>
        (value & SleepEnable) != 0 && (value & SleepTypeMask) >> SleepTypeShift == SleepTypeS5;
}
