// Offline mode needs to know when a net_pcap port has read its whole capture, because net_pcap
// in DPDK 22.11 signals no end of file (rx_burst just returns 0). The capture's frame count,
// read here from the file, is compared with the port's ipackets counter.
using System.Buffers.Binary;

namespace VSwitch.Dataplane.Daemon;

internal static class PcapInputs
{
    /// <summary>Frames the port will receive in total, or null when its input never ends.</summary>
    public static long? ExpectedFrames(string devargs)
    {
        long total = 0;
        foreach (string part in devargs.Split(',').Skip(1))
        {
            string[] kv = part.Split('=', 2);
            if (kv.Length != 2)
                continue;
            switch (kv[0].Trim())
            {
                case "infinite_rx" when kv[1].Trim() != "0":
                    return null;
                case "rx_pcap":
                    total += CountFrames(kv[1].Trim());
                    break;
                case "rx_iface" or "rx_iface_in" or "iface":
                    return null;
            }
        }
        return total;
    }

    /// <summary>Counts the records of a classic pcap file (either byte order, µs or ns timestamps).</summary>
    public static long CountFrames(string path)
    {
        using FileStream file = File.OpenRead(path);
        Span<byte> header = stackalloc byte[24];
        if (file.ReadAtLeast(header, 24, throwOnEndOfStream: false) < 24)
            throw new InvalidDataException($"{path}: shorter than a pcap file header");
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
        bool swapped = magic switch
        {
            0xA1B2C3D4 or 0xA1B23C4D => false,
            0xD4C3B2A1 or 0x4D3CB2A1 => true,
            _ => throw new InvalidDataException($"{path}: not a classic pcap file (magic 0x{magic:x8}; pcapng is not supported)"),
        };
        long frames = 0;
        Span<byte> record = stackalloc byte[16];
        while (file.ReadAtLeast(record, 16, throwOnEndOfStream: false) == 16)
        {
            uint captured = swapped ? BinaryPrimitives.ReadUInt32BigEndian(record.Slice(8)) : BinaryPrimitives.ReadUInt32LittleEndian(record.Slice(8));
            if (file.Position + captured > file.Length)
                throw new InvalidDataException($"{path}: record {frames + 1} is cut short ({captured} bytes announced)");
            file.Seek(captured, SeekOrigin.Current);
            frames++;
        }
        return frames;
    }
}
