// A reader for classic libpcap files (what `tcpdump -w` writes): a 24-byte global header, then
// per frame a 16-byte record header and the captured bytes. Both byte orders and both
// timestamp resolutions are accepted; pcapng is refused with a message saying so.
// Format: https://www.tcpdump.org/manpages/pcap-savefile.5.txt
using System.Buffers.Binary;

namespace VSwitch.Tests.Integration.Infrastructure;

public sealed record CapturedFrame(int Index, DateTimeOffset Timestamp, int OriginalLength, byte[] Data);

public static class ClassicPcap
{
    public const uint LinkTypeEthernet = 1;
    private const uint MagicMicroseconds = 0xA1B2C3D4;
    private const uint MagicNanoseconds = 0xA1B23C4D;
    private const uint MagicPcapng = 0x0A0D0D0A;
    private const int GlobalHeaderLength = 24;
    private const int RecordHeaderLength = 16;

    /// <param name="live">
    /// The file is still being written (tcpdump -U): a missing header or a partly written last
    /// record means "not yet", not corruption, and is left out instead of throwing.
    /// </param>
    public static IReadOnlyList<CapturedFrame> ReadFile(string path, bool live = false)
    {
        try
        {
            if (live)
            {
                // tcpdump keeps the file open for writing; share it.
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                return Read(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), live: true);
            }
            return Read(File.ReadAllBytes(path));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Parses a whole capture; throws InvalidDataException for anything but complete Ethernet records.</summary>
    public static IReadOnlyList<CapturedFrame> Read(ReadOnlySpan<byte> file, bool live = false)
    {
        if (live && file.Length < GlobalHeaderLength)
            return [];
        if (file.Length < GlobalHeaderLength)
            throw new InvalidDataException($"{file.Length} bytes is shorter than the {GlobalHeaderLength}-byte pcap header (did the capture start?)");
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(file);
        bool bigEndian;
        bool nanoseconds;
        switch (magic)
        {
            case MagicMicroseconds: bigEndian = false; nanoseconds = false; break;
            case MagicNanoseconds: bigEndian = false; nanoseconds = true; break;
            default:
                uint swapped = BinaryPrimitives.ReverseEndianness(magic);
                if (swapped == MagicMicroseconds || swapped == MagicNanoseconds)
                {
                    bigEndian = true;
                    nanoseconds = swapped == MagicNanoseconds;
                    break;
                }
                throw new InvalidDataException(magic == MagicPcapng
                    ? "this is pcapng, not classic pcap (write it with tcpdump -w, or convert: editcap -F pcap)"
                    : $"magic 0x{magic:x8} is not a pcap file");
        }
        uint linkType = U32(file.Slice(20), bigEndian) & 0x0FFFFFFF;
        if (linkType != LinkTypeEthernet)
            throw new InvalidDataException($"link type {linkType}, expected {LinkTypeEthernet} (Ethernet)");

        var frames = new List<CapturedFrame>();
        int offset = GlobalHeaderLength;
        while (offset < file.Length)
        {
            if (live && file.Length - offset < RecordHeaderLength)
                break;
            if (file.Length - offset < RecordHeaderLength)
                throw new InvalidDataException($"truncated record header for frame {frames.Count} at offset {offset}");
            ReadOnlySpan<byte> header = file.Slice(offset, RecordHeaderLength);
            long seconds = U32(header, bigEndian);
            long fraction = U32(header.Slice(4), bigEndian);
            int included = checked((int)U32(header.Slice(8), bigEndian));
            int original = checked((int)U32(header.Slice(12), bigEndian));
            offset += RecordHeaderLength;
            if (live && file.Length - offset < included)
                break;
            if (file.Length - offset < included)
                throw new InvalidDataException($"frame {frames.Count} claims {included} bytes, {file.Length - offset} remain");
            long ticks = nanoseconds ? fraction / 100 : fraction * 10;
            frames.Add(new CapturedFrame(frames.Count, DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(ticks), original,
                file.Slice(offset, included).ToArray()));
            offset += included;
        }
        return frames;
    }

    private static uint U32(ReadOnlySpan<byte> bytes, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes);
}
