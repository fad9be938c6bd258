// One record of a volume pool's journal (pool.journal): 64 bytes, little-endian, sealed by a
// CRC-32 over the rest. A record is written with one pwrite at a 64-byte boundary and made durable
// (fdatasync) before anything depends on it; a record torn by a crash fails its CRC, and replay
// stops there, so the journal is always a prefix of whole records. Each record carries its own
// index: a stale record past a torn one can never be mistaken for the next.
//
//   0  u32 magic "VSWJ"        4  u8 type   5  u8 flags   6  u16 volume slot
//   8  u64 a                  16  u64 b    24  32 bytes of text (UTF-8, NUL-padded)
//  56  u32 index              60  u32 CRC-32 of bytes 0..59
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace VSwitch.Vmm.Volumes.Pool;

public enum PoolRecordType : byte
{
    /// <summary>The first record: a = extent size in bytes, b = number of extents.</summary>
    Init = 1,
    /// <summary>A volume in a free slot: a = size in bytes, text = its name.</summary>
    Create = 2,
    /// <summary>The volume is gone, its extents free (they were zeroed first).</summary>
    Delete = 3,
    /// <summary>The volume grows: a = new size in bytes.</summary>
    Resize = 4,
    /// <summary>Logical extent a of the volume is physical extent b.</summary>
    Map = 5,
    /// <summary>Logical extent a of the volume is unmapped, physical extent b free (zeroed first).</summary>
    Unmap = 6,
    /// <summary>text (a VM's name) may attach the volume; flags bit 0: read-only.</summary>
    Attach = 7,
    /// <summary>text may no longer attach the volume.</summary>
    Detach = 8,
    /// <summary>
    /// A volume in a free slot that lives outside the pool (a = its ExternalKind, b = the length
    /// of its location), text = its name; the location follows in Location records. The pool
    /// records its owners, not its data.
    /// </summary>
    External = 9,
    /// <summary>Bytes a to a + 32 of an external volume's location (an NBD URI or a file's path), in text.</summary>
    Location = 10,
}

/// <summary>Where an external volume's bytes are.</summary>
public enum ExternalKind : byte
{
    /// <summary>The pool's own extents.</summary>
    None = 0,
    /// <summary>An NBD export; the location is its URI (Volumes/Nbd/NbdAddress.cs).</summary>
    Nbd = 1,
    /// <summary>A raw file or block device; the location is its absolute path.</summary>
    File = 2,
}

public readonly record struct PoolRecord(PoolRecordType Type, int Slot, long A, long B, string Text, bool ReadOnly)
{
    public const int Size = 64;
    public const int MaxTextBytes = 32;
    private const uint Magic = 0x4A575356; // "VSWJ" little-endian

    public void Write(Span<byte> record, uint index)
    {
        record[..Size].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(record, Magic);
        record[4] = (byte)Type;
        record[5] = (byte)(ReadOnly ? 1 : 0);
        BinaryPrimitives.WriteUInt16LittleEndian(record[6..], checked((ushort)Slot));
        BinaryPrimitives.WriteInt64LittleEndian(record[8..], A);
        BinaryPrimitives.WriteInt64LittleEndian(record[16..], B);
        if (Encoding.UTF8.GetBytes(Text, record.Slice(24, MaxTextBytes)) != Encoding.UTF8.GetByteCount(Text))
            throw new ArgumentException($"'{Text}' is longer than {MaxTextBytes} bytes");
        BinaryPrimitives.WriteUInt32LittleEndian(record[56..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(record[60..], Crc32.HashToUInt32(record[..60]));
    }

    /// <summary>The record at <paramref name="index"/>, or null when it is torn, foreign or from another place in the journal.</summary>
    public static PoolRecord? Read(ReadOnlySpan<byte> record, uint index)
    {
        if (record.Length < Size || BinaryPrimitives.ReadUInt32LittleEndian(record) != Magic ||
            BinaryPrimitives.ReadUInt32LittleEndian(record[56..]) != index ||
            BinaryPrimitives.ReadUInt32LittleEndian(record[60..]) != Crc32.HashToUInt32(record[..60]))
            return null;
        ReadOnlySpan<byte> text = record.Slice(24, MaxTextBytes);
        int end = text.IndexOf((byte)0);
        return new PoolRecord((PoolRecordType)record[4], BinaryPrimitives.ReadUInt16LittleEndian(record[6..]),
            BinaryPrimitives.ReadInt64LittleEndian(record[8..]), BinaryPrimitives.ReadInt64LittleEndian(record[16..]),
            Encoding.UTF8.GetString(end < 0 ? text : text[..end]), (record[5] & 1) != 0);
    }
}
