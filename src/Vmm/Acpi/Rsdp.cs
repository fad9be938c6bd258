// Root System Description Pointer, revision 2 (ACPI 6.4 section 5.2.5.3): 36 bytes, two checksums
// (the first 20 bytes, as in ACPI 1.0, and the whole structure). Only the XSDT is given; the
// 32-bit RSDT address is 0, which OSes read as "use the XSDT".
using System.Buffers.Binary;

namespace VSwitch.Vmm.Acpi;

internal static class Rsdp
{
    public const int Length = 36;
    public const int Acpi10Length = 20;
    public const int ChecksumOffset = 8;
    public const int ExtendedChecksumOffset = 32;
    public const byte Revision = 2;

    public static byte[] Build(ulong xsdtAddress)
    {
        var rsdp = new byte[Length];
        SystemDescriptionTable.Ascii(rsdp, 0, "RSD PTR ", 8);
        SystemDescriptionTable.Ascii(rsdp, 9, SystemDescriptionTable.OemId, 6);
        rsdp[15] = Revision;
        BinaryPrimitives.WriteUInt32LittleEndian(rsdp.AsSpan(20), Length);
        BinaryPrimitives.WriteUInt64LittleEndian(rsdp.AsSpan(24), xsdtAddress);
        SystemDescriptionTable.SetChecksum(rsdp.AsSpan(0, Acpi10Length), ChecksumOffset);
        SystemDescriptionTable.SetChecksum(rsdp, ExtendedChecksumOffset);
        return rsdp;
    }
}
