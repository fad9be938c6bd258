// Classic libpcap files, the format tcpdump -w, DPDK's net_pcap and scapy write: a 24-byte
// global header, then per frame a 16-byte record header and the captured bytes.
// The reader accepts both byte orders and both timestamp resolutions. Anything else is an
// InvalidDataException that names the file: pcapng (with the command that converts it), another
// link type, a truncated header or record. The writer writes what net_pcap reads.
// Format: https://www.tcpdump.org/manpages/pcap-savefile.5.txt
using System.Buffers.Binary;

namespace VSwitch.Tests.Integration.Infrastructure;

/// <summary>One record. <see cref="Number"/> counts from 1, as tshark and Wireshark number frames.</summary>
public sealed record PcapFrame(int Number, DateTimeOffset Timestamp, uint OriginalLength, byte[] Data);

public static class PcapFile
{
    public const uint LinkTypeEthernet = 1;
    private const uint MagicMicroseconds = 0xA1B2C3D4;
    private const uint MagicNanoseconds = 0xA1B23C4D;
    private const uint MagicPcapng = 0x0A0D0D0A;
    private const int GlobalHeaderLength = 24;
    private const int RecordHeaderLength = 16;
    /// <summary>The snapshot length <see cref="Write"/> declares, in bytes: 65535, as tcpdump's default used to be.</summary>
    private const uint WriteSnapLength = 65535;

    /// <summary>Reads every record of an Ethernet capture; throws InvalidDataException for anything else.</summary>
    /// <param name="live">
    /// The file is still being written (tcpdump -U): a missing header or a partly written last
    /// record means "not yet", not corruption, and is left out instead of throwing.
    /// </param>
    public static IReadOnlyList<PcapFrame> Read(string path, bool live = false)
    {
        try
        {
            if (!live)
                return Parse(File.ReadAllBytes(path), live: false);
            // tcpdump keeps the file open for writing; share it.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            return Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), live: true);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    private static IReadOnlyList<PcapFrame> Parse(ReadOnlySpan<byte> file, bool live)
    {
        if (file.Length < GlobalHeaderLength)
        {
            return live
                ? []
                : throw new InvalidDataException($"{file.Length} bytes, shorter than the {GlobalHeaderLength}-byte pcap global header (did the capture start?)");
        }
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(file);
        uint swapped = BinaryPrimitives.ReverseEndianness(magic);
        (bool bigEndian, bool nanoseconds) = magic switch
        {
            MagicMicroseconds => (false, false),
            MagicNanoseconds => (false, true),
            _ when swapped == MagicMicroseconds => (true, false),
            _ when swapped == MagicNanoseconds => (true, true),
            MagicPcapng => throw new InvalidDataException("this is pcapng, not classic pcap (write it with tcpdump -w, or convert: editcap -F pcap)"),
            _ => throw new InvalidDataException($"magic 0x{magic:x8} is not a pcap file"),
        };
        // The upper bits of the link-type field carry FCS information, not the link type.
        uint linkType = U32(file.Slice(20), bigEndian) & 0x0FFFFFFF;
        if (linkType != LinkTypeEthernet)
            throw new InvalidDataException($"link type {linkType}, expected {LinkTypeEthernet} (Ethernet)");

        var frames = new List<PcapFrame>();
        int offset = GlobalHeaderLength;
        while (offset < file.Length)
        {
            int number = frames.Count + 1;
            if (file.Length - offset < RecordHeaderLength)
            {
                if (live)
                    break;
                throw new InvalidDataException($"truncated record header for frame {number} at offset {offset}");
            }
            ReadOnlySpan<byte> header = file.Slice(offset, RecordHeaderLength);
            long seconds = U32(header, bigEndian);
            long fraction = U32(header.Slice(4), bigEndian);
            uint included = U32(header.Slice(8), bigEndian);
            uint original = U32(header.Slice(12), bigEndian);
            offset += RecordHeaderLength;
            if (included > (uint)(file.Length - offset))
            {
                if (live)
                    break;
                throw new InvalidDataException($"frame {number} claims {included} bytes, {file.Length - offset} remain");
            }
            long ticks = nanoseconds ? fraction / 100 : fraction * 10;
            frames.Add(new PcapFrame(number, DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(ticks), original,
                file.Slice(offset, (int)included).ToArray()));
            offset += (int)included;
        }
        return frames;
    }

    /// <summary>Writes an Ethernet capture (little-endian, microsecond stamps, every stamp 0, every frame whole).</summary>
    public static void Write(string path, IEnumerable<byte[]> frames)
    {
        using var file = new BinaryWriter(File.Create(path));
        file.Write(MagicMicroseconds);
        file.Write((ushort)2); // version 2.4
        file.Write((ushort)4);
        file.Write(0); // thiszone
        file.Write(0u); // sigfigs
        file.Write(WriteSnapLength);
        file.Write(LinkTypeEthernet);
        foreach (byte[] frame in frames)
        {
            if ((uint)frame.Length > WriteSnapLength)
                throw new ArgumentException($"{path}: a {frame.Length}-byte frame is longer than the snapshot length {WriteSnapLength}", nameof(frames));
            file.Write(0u); // seconds
            file.Write(0u); // microseconds
            file.Write((uint)frame.Length); // captured
            file.Write((uint)frame.Length); // original
            file.Write(frame);
        }
    }

    private static uint U32(ReadOnlySpan<byte> bytes, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes);
}
