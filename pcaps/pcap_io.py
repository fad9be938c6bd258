"""pcap files for the regression scenarios (pcaps/README.md): the classic libpcap format with
microsecond stamps and LINKTYPE_ETHERNET, written by our own writer so the output is the same
byte for byte on every run."""
import struct

PCAP_BASE_TIME = 1_700_000_000  # 2023-11-14T22:13:20Z; every record is stamped from here.



def pcap_bytes(frames):
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, frame in enumerate(frames):
        out += struct.pack("<IIII", PCAP_BASE_TIME + i // 1000, (i % 1000) * 1000, len(frame), len(frame))
        out += frame
    return bytes(out)


def read_pcap(path):
    """Reads back a capture written by pcap_bytes (used by the self-check)."""
    with open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack_from("<I", data, 0)
    assert magic == 0xA1B2C3D4, path
    frames, offset = [], 24
    while offset < len(data):
        _, _, caplen, length = struct.unpack_from("<IIII", data, offset)
        assert caplen == length, path
        frames.append(data[offset + 16:offset + 16 + caplen])
        offset += 16 + caplen
    return frames
