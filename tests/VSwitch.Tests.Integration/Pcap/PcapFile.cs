// A small reader for classic libpcap files (the format net_pcap reads and writes): a 24-byte
// global header, then 16-byte record headers each followed by the captured bytes. Timestamps are
// ignored: net_pcap stamps its output with wall-clock time, so only frame bytes are comparable.
using System.Buffers.Binary;

namespace VSwitch.Tests.Integration.Pcap;

public sealed record PcapFrame(int Number, byte[] Data, uint OriginalLength);

public static class PcapFile
{
    public const uint LinkTypeEthernet = 1;

    /// <summary>Reads every record; throws InvalidDataException on anything but a well-formed Ethernet capture.</summary>
    public static List<PcapFrame> Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 24)
            throw new InvalidDataException($"{path}: {bytes.Length} bytes, shorter than the 24-byte pcap global header");
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        bool bigEndian = magic switch
        {
            0xA1B2C3D4 or 0xA1B23C4D => false, // microsecond / nanosecond stamps, little-endian writer
            0xD4C3B2A1 or 0x4D3CB2A1 => true,
            _ => throw new InvalidDataException($"{path}: magic 0x{magic:x8} is not classic pcap (pcapng is not supported)"),
        };
        uint ReadU32(int offset) => bigEndian
            ? BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset))
            : BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset));

        uint linkType = ReadU32(20);
        if (linkType != LinkTypeEthernet)
            throw new InvalidDataException($"{path}: link type {linkType}, expected {LinkTypeEthernet} (Ethernet)");
        var frames = new List<PcapFrame>();
        int offset = 24;
        while (offset < bytes.Length)
        {
            if (bytes.Length - offset < 16)
                throw new InvalidDataException($"{path}: truncated record header at offset {offset}");
            uint captured = ReadU32(offset + 8);
            uint original = ReadU32(offset + 12);
            offset += 16;
            if (captured > bytes.Length - offset)
                throw new InvalidDataException($"{path}: record {frames.Count + 1} claims {captured} bytes, {bytes.Length - offset} left");
            frames.Add(new PcapFrame(frames.Count + 1, bytes.AsSpan(offset, (int)captured).ToArray(), original));
            offset += (int)captured;
        }
        return frames;
    }
}
