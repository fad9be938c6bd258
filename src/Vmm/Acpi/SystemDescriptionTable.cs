// The header every ACPI system description table starts with and the checksum rule (ACPI 6.4
// section 5.2.6 "System Description Table Header": "the entire table, including the checksum
// field, must add to zero").
using System.Buffers.Binary;
using System.Text;

namespace VSwitch.Vmm.Acpi;

internal static class SystemDescriptionTable
{
    public const int HeaderLength = 36;
    public const int LengthOffset = 4;
    public const int ChecksumOffset = 9;

    public const string OemId = "VSWTCH";
    public const string OemTableId = "VSWITCH ";
    public const uint OemRevision = 1;
    public const string CreatorId = "VSWT";
    public const uint CreatorRevision = 1;

    /// <summary>A table of <paramref name="length"/> bytes with its header filled in; checksum it after the body.</summary>
    public static byte[] Create(string signature, int length, byte revision)
    {
        var table = new byte[length];
        Ascii(table, 0, signature, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(LengthOffset), (uint)length);
        table[8] = revision;
        Ascii(table, 10, OemId, 6);
        Ascii(table, 16, OemTableId, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(24), OemRevision);
        Ascii(table, 28, CreatorId, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(32), CreatorRevision);
        return table;
    }

    /// <summary>A table made of a header and <paramref name="body"/>, checksummed.</summary>
    public static byte[] Create(string signature, byte revision, ReadOnlySpan<byte> body)
    {
        byte[] table = Create(signature, HeaderLength + body.Length, revision);
        body.CopyTo(table.AsSpan(HeaderLength));
        SetChecksum(table, ChecksumOffset);
        return table;
    }

    /// <summary>Sets the byte at <paramref name="checksumOffset"/> so <paramref name="bytes"/> sums to 0 mod 256.</summary>
    public static void SetChecksum(Span<byte> bytes, int checksumOffset)
    {
        bytes[checksumOffset] = 0;
        bytes[checksumOffset] = (byte)(0x100 - Sum(bytes));
    }

    public static byte Sum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes)
            sum += b;
        return sum;
    }

    public static void Ascii(Span<byte> destination, int offset, string text, int length)
    {
        if (text.Length != length || Encoding.ASCII.GetByteCount(text) != length)
            throw new ArgumentException($"'{text}' must be {length} ASCII characters", nameof(text));
        Encoding.ASCII.GetBytes(text, destination.Slice(offset, length));
    }
}

/// <summary>Generic Address Structure (ACPI 6.4 section 5.2.3.2), 12 bytes.</summary>
internal readonly record struct GenericAddress(byte AddressSpace, byte BitWidth, byte BitOffset, byte AccessSize, ulong Address)
{
    public const int Length = 12;
    public const byte SystemIo = 1;
    public const byte ByteAccess = 1, WordAccess = 2;

    public static GenericAddress IoPort(ushort port, int bytes, byte accessSize) =>
        new(SystemIo, (byte)(bytes * 8), 0, accessSize, port);

    public void Write(Span<byte> destination)
    {
        destination[0] = AddressSpace;
        destination[1] = BitWidth;
        destination[2] = BitOffset;
        destination[3] = AccessSize;
        BinaryPrimitives.WriteUInt64LittleEndian(destination[4..], Address);
    }
}
