// A minimal AML encoder: just the terms the DSDT needs (ACPI 6.4 section 20.2 "AML Grammar
// Definition": 20.2.2 name objects, 20.2.3 data objects, 20.2.4 package length, 20.2.5 terms;
// section 6.4 "Resource Data Types for ACPI" for ResourceTemplate contents). Each method returns
// the encoded bytes of one term, so a table is built by nesting calls the way the ASL nests.
// AmlTests pins each encoding against the bytes iasl produces for the same ASL.
using System.Buffers.Binary;
using System.Text;

namespace VSwitch.Vmm.Acpi;

public static class Aml
{
    private const byte ZeroOp = 0x00, OneOp = 0x01, NameOp = 0x08, BytePrefix = 0x0a, WordPrefix = 0x0b,
        DWordPrefix = 0x0c, StringPrefix = 0x0d, QWordPrefix = 0x0e, ScopeOp = 0x10, BufferOp = 0x11,
        PackageOp = 0x12, ExtOpPrefix = 0x5b, DeviceOp = 0x82, RootChar = 0x5c, ParentPrefixChar = 0x5e,
        DualNamePrefix = 0x2e, MultiNamePrefix = 0x2f;

    /// <summary>PkgLength encodes at most 2^28 - 1 bytes (20.2.4: 4 bits + 3 bytes).</summary>
    public const int MaxPackageLength = (1 << 28) - 1;

    /// <summary>Name (path, value).</summary>
    public static byte[] Name(string path, byte[] value) => [NameOp, .. NameString(path), .. value];

    /// <summary>Scope (path) { terms }.</summary>
    public static byte[] Scope(string path, params byte[][] terms) => [ScopeOp, .. WithPackageLength([.. NameString(path), .. Concat(terms)])];

    /// <summary>Device (path) { terms }.</summary>
    public static byte[] Device(string path, params byte[][] terms) =>
        [ExtOpPrefix, DeviceOp, .. WithPackageLength([.. NameString(path), .. Concat(terms)])];

    /// <summary>Package () { elements }: at most 255 elements (NumElements is a byte).</summary>
    public static byte[] Package(params byte[][] elements)
    {
        if (elements.Length > byte.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(elements), elements.Length, "a Package holds at most 255 elements");
        return [PackageOp, .. WithPackageLength([(byte)elements.Length, .. Concat(elements)])];
    }

    /// <summary>An integer in the shortest encoding: Zero, One, or Byte/Word/DWord/QWord constant.</summary>
    public static byte[] Integer(ulong value) => value switch
    {
        0 => [ZeroOp],
        1 => [OneOp],
        <= byte.MaxValue => [BytePrefix, (byte)value],
        <= ushort.MaxValue => [WordPrefix, .. LittleEndian((ushort)value, 2)],
        <= uint.MaxValue => [DWordPrefix, .. LittleEndian(value, 4)],
        _ => [QWordPrefix, .. LittleEndian(value, 8)],
    };

    /// <summary>A String constant: printable ASCII, NUL-terminated.</summary>
    public static byte[] String(string value)
    {
        foreach (char c in value)
        {
            if (c is < (char)0x01 or > (char)0x7f)
                throw new ArgumentException($"AML string '{value}' has a character outside ASCII 0x01-0x7f", nameof(value));
        }
        return [StringPrefix, .. Encoding.ASCII.GetBytes(value), 0];
    }

    /// <summary>EisaId ("PNP0501"): three upper-case letters and four hex digits compressed to a DWord.</summary>
    public static byte[] EisaId(string id)
    {
        if (id.Length != 7 || !char.IsAsciiLetterUpper(id[0]) || !char.IsAsciiLetterUpper(id[1]) || !char.IsAsciiLetterUpper(id[2])
            || !ushort.TryParse(id.AsSpan(3), System.Globalization.NumberStyles.AllowHexSpecifier, null, out ushort product))
            throw new ArgumentException($"EISA id '{id}' is not three upper-case letters and four hex digits", nameof(id));
        int vendor = ((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40);
        // Big-endian vendor then big-endian product, read as a little-endian DWord.
        return [DWordPrefix, (byte)(vendor >> 8), (byte)vendor, (byte)(product >> 8), (byte)product];
    }

    /// <summary>ResourceTemplate () { descriptors }: a Buffer ending with an End Tag (6.4.2.9) of checksum 0.</summary>
    public static byte[] ResourceTemplate(params byte[][] descriptors)
    {
        byte[] data = [.. Concat(descriptors), 0x79, 0x00];
        return [BufferOp, .. WithPackageLength([.. Integer((ulong)data.Length), .. data])];
    }

    /// <summary>IO (Decode16, min, max, alignment, length): I/O Port Descriptor (6.4.2.5).</summary>
    public static byte[] Io(ushort minimum, ushort maximum, byte alignment, byte length) =>
        [0x47, 0x01, .. LittleEndian(minimum, 2), .. LittleEndian(maximum, 2), alignment, length];

    /// <summary>IRQNoFlags () { irqs }: IRQ Descriptor without the information byte (6.4.2.1), ISA IRQs 0-15.</summary>
    public static byte[] IrqNoFlags(params int[] irqs)
    {
        ushort mask = 0;
        foreach (int irq in irqs)
        {
            if (irq is < 0 or > 15)
                throw new ArgumentOutOfRangeException(nameof(irqs), irq, "an ISA IRQ is 0-15");
            mask |= (ushort)(1 << irq);
        }
        return [0x22, .. LittleEndian(mask, 2)];
    }

    /// <summary>Memory32Fixed (ReadWrite|ReadOnly, base, length): 32-bit Fixed Memory Range Descriptor (6.4.3.4).</summary>
    public static byte[] Memory32Fixed(bool writable, uint address, uint length) =>
        [0x86, 0x09, 0x00, (byte)(writable ? 1 : 0), .. LittleEndian(address, 4), .. LittleEndian(length, 4)];

    /// <summary>
    /// Interrupt (ResourceConsumer, Edge|Level, ActiveHigh|ActiveLow, Exclusive|Shared) { gsi }:
    /// Extended Interrupt Descriptor (6.4.3.6) with one interrupt.
    /// </summary>
    public static byte[] Interrupt(bool edge, bool activeLow, bool shared, uint gsi)
    {
        byte flags = (byte)(1 | (edge ? 1 << 1 : 0) | (activeLow ? 1 << 2 : 0) | (shared ? 1 << 3 : 0));
        return [0x89, 0x06, 0x00, flags, 0x01, .. LittleEndian(gsi, 4)];
    }

    /// <summary>
    /// A NameString (20.2.2): an optional root '\' or parent '^' prefixes, then dot-separated
    /// segments of up to 4 characters (A-Z, _ first; A-Z, 0-9, _ after), padded with '_'.
    /// </summary>
    public static byte[] NameString(string path)
    {
        var bytes = new List<byte>();
        int start = 0;
        if (path.StartsWith('\\'))
        {
            bytes.Add(RootChar);
            start = 1;
        }
        else
        {
            while (start < path.Length && path[start] == '^')
            {
                bytes.Add(ParentPrefixChar);
                start++;
            }
        }
        string[] segments = start == path.Length ? [] : path[start..].Split('.');
        if (segments.Length > byte.MaxValue)
            throw new ArgumentException($"AML name '{path}' has more than 255 segments", nameof(path));
        if (segments.Length == 2)
            bytes.Add(DualNamePrefix);
        else if (segments.Length > 2)
            bytes.AddRange([MultiNamePrefix, (byte)segments.Length]);
        else if (segments.Length == 0)
            bytes.Add(0x00); // NullName
        foreach (string segment in segments)
            bytes.AddRange(NameSegment(segment, path));
        return [.. bytes];
    }

    private static byte[] NameSegment(string segment, string path)
    {
        bool valid = segment.Length is >= 1 and <= 4 && (char.IsAsciiLetterUpper(segment[0]) || segment[0] == '_');
        foreach (char c in segment)
            valid &= char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '_';
        if (!valid)
            throw new ArgumentException($"AML name '{path}': segment '{segment}' is not 1-4 of A-Z, 0-9, _ (not starting with a digit)", nameof(path));
        return Encoding.ASCII.GetBytes(segment.PadRight(4, '_'));
    }

    /// <summary>PkgLength (20.2.4) followed by <paramref name="body"/>; the length counts its own bytes.</summary>
    public static byte[] WithPackageLength(byte[] body)
    {
        int length = body.Length;
        byte[] prefix;
        if (length + 1 < 1 << 6)
            prefix = [(byte)(length + 1)];
        else if (length + 2 < 1 << 12)
            prefix = Lead(length + 2, 1);
        else if (length + 3 < 1 << 20)
            prefix = Lead(length + 3, 2);
        else if (length + 4 <= MaxPackageLength)
            prefix = Lead(length + 4, 3);
        else
            throw new ArgumentOutOfRangeException(nameof(body), length, "AML package longer than PkgLength can encode");
        return [.. prefix, .. body];

        static byte[] Lead(int total, int following)
        {
            var bytes = new byte[following + 1];
            bytes[0] = (byte)((following << 6) | (total & 0xf));
            for (int i = 1; i <= following; i++)
                bytes[i] = (byte)(total >> (4 + 8 * (i - 1)));
            return bytes;
        }
    }

    private static byte[] Concat(byte[][] parts) => [.. parts.SelectMany(p => p)];

    private static byte[] LittleEndian(ulong value, int size)
    {
        var bytes = new byte[size];
        Span<byte> all = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(all, value);
        all[..size].CopyTo(bytes);
        return bytes;
    }
}
