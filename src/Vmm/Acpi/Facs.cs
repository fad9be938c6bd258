// Firmware ACPI Control Structure (ACPI 6.4 section 5.2.10): required with a full (not
// hardware-reduced) FADT. 64 bytes, 64-byte aligned, no checksum. The waking vector stays 0: the
// VM has no S3, only S5 (off).
using System.Buffers.Binary;

namespace VSwitch.Vmm.Acpi;

internal static class Facs
{
    public const int Length = 64;
    public const int Alignment = 64;
    public const byte Version = 2;

    public static byte[] Build()
    {
        var facs = new byte[Length];
        SystemDescriptionTable.Ascii(facs, 0, "FACS", 4);
        BinaryPrimitives.WriteUInt32LittleEndian(facs.AsSpan(4), Length);
        facs[32] = Version;
        return facs;
    }
}
