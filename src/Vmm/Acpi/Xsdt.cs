// Extended System Description Table (ACPI 6.4 section 5.2.8): 64-bit pointers to the other
// tables (FADT, MADT; the FADT points on to the FACS and DSDT).
using System.Buffers.Binary;

namespace VSwitch.Vmm.Acpi;

internal static class Xsdt
{
    public const byte Revision = 1;

    public static byte[] Build(ReadOnlySpan<ulong> tableAddresses)
    {
        var body = new byte[tableAddresses.Length * sizeof(ulong)];
        for (int i = 0; i < tableAddresses.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(i * sizeof(ulong)), tableAddresses[i]);
        return SystemDescriptionTable.Create("XSDT", Revision, body);
    }
}
