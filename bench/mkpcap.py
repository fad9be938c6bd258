#!/usr/bin/python3
"""Writes the benchmark workload of benchmarking.md as a classic pcap file.

1024 frames of 64 bytes on the wire (60 bytes captured: the FCS is not in a capture), one UDP
flow each (UDP source ports 1024..2047, destination port 4000). Every frame is sent by the
ingress VM (its bound MAC and IPv4 address, so anti-spoofing passes) to the VM behind the output
port. The output is byte-for-byte deterministic: fixed timestamps, fixed IP ids, fixed payload.

    /usr/bin/python3 bench/mkpcap.py OUT.pcap [--frames 1024] [--src-mac ...] [--src-ip ...]
                                              [--dst-mac ...] [--dst-ip ...] [--tunnel vxlan|geneve]

The defaults match the VMs that bench/run configures (vm-in 02:00:00:00:00:01 / 10.0.0.1,
vm-out 02:00:00:00:00:02 / 10.0.0.2).

--tunnel wraps each of those frames as the remote VTEP would send it to this host (the input of
the decapsulation scenarios): outer Ethernet 02:bb:00:00:00:02 -> 02:aa:00:00:00:01, IPv4
192.168.50.2 -> 192.168.50.1 (DF, TTL 64), UDP from a per-flow source port (RFC 7348 section 5:
a hash of the inner flow; here 49152 + flow) with checksum 0, then VXLAN (RFC 7348 section 5) or
GENEVE with one 8-byte option (RFC 8926 section 3.5), VNI 5001. bench.py's configurations name
the same addresses.
"""
import argparse
import sys

from scapy.layers.inet import IP, UDP
from scapy.contrib.geneve import GENEVE, GeneveOptions
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw
from scapy.utils import wrpcap

CAPTURED = 60  # 64-byte frames on the wire, minus the 4-byte FCS
HEADERS = 14 + 20 + 8  # Ethernet + IPv4 + UDP

# The underlay of the overlay scenarios (bench.py config uses the same values).
LOCAL_VTEP, REMOTE_VTEP = "192.168.50.1", "192.168.50.2"
LOCAL_MAC, REMOTE_MAC = "02:aa:00:00:00:01", "02:bb:00:00:00:02"
VNI = 5001
GENEVE_OPTION = {"class": 0x0102, "type": 0x80, "data": "0011223344556677"}
OUTER = {"vxlan": 14 + 20 + 8 + 8, "geneve": 14 + 20 + 8 + 8 + 4 + 8}


def encapsulate(inner, tunnel, flow):
    if tunnel == "vxlan":
        port, header = 4789, VXLAN(flags=0x08, vni=VNI)
    else:
        option = GeneveOptions(classid=GENEVE_OPTION["class"], type=GENEVE_OPTION["type"],
                               data=bytes.fromhex(GENEVE_OPTION["data"]))
        # C: a critical option (type's high bit) is present (RFC 8926 section 3.4).
        port, header = 6081, GENEVE(vni=VNI, proto=0x6558, critical=1, options=[option])
    outer = (Ether(src=REMOTE_MAC, dst=LOCAL_MAC)
             / IP(src=REMOTE_VTEP, dst=LOCAL_VTEP, id=0, ttl=64, flags="DF")
             / UDP(sport=49152 + (flow & 0x3FFF), dport=port, chksum=0)
             / header / inner)
    outer.time = inner.time
    return outer


def frames(count, src_mac, dst_mac, src_ip, dst_ip):
    payload_len = CAPTURED - HEADERS
    for i in range(count):
        # The payload carries the flow index, so a captured frame can be traced back.
        payload = i.to_bytes(4, "big") + bytes(payload_len - 4)
        pkt = (Ether(src=src_mac, dst=dst_mac)
               / IP(src=src_ip, dst=dst_ip, id=i & 0xFFFF, ttl=64, flags="DF")
               / UDP(sport=1024 + i, dport=4000)
               / Raw(payload))
        pkt.time = 1_700_000_000 + i / 1_000_000  # fixed timestamps: deterministic file
        yield pkt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--frames", type=int, default=1024)
    ap.add_argument("--src-mac", default="02:00:00:00:00:01")
    ap.add_argument("--src-ip", default="10.0.0.1")
    ap.add_argument("--dst-mac", default="02:00:00:00:00:02")
    ap.add_argument("--dst-ip", default="10.0.0.2")
    ap.add_argument("--tunnel", choices=["vxlan", "geneve"])
    a = ap.parse_args()
    if not 1 <= a.frames <= 64512:
        sys.exit("mkpcap: --frames must be 1..64512 (one UDP source port per flow, from 1024)")
    pkts = list(frames(a.frames, a.src_mac, a.dst_mac, a.src_ip, a.dst_ip))
    for p in pkts:
        if len(bytes(p)) != CAPTURED:
            sys.exit(f"mkpcap: built a {len(bytes(p))}-byte frame, expected {CAPTURED}")
    if a.tunnel:
        pkts = [encapsulate(p, a.tunnel, i) for i, p in enumerate(pkts)]
        for p in pkts:
            if len(bytes(p)) != CAPTURED + OUTER[a.tunnel]:
                sys.exit(f"mkpcap: built a {len(bytes(p))}-byte {a.tunnel} frame, expected {CAPTURED + OUTER[a.tunnel]}")
    wrpcap(a.out, pkts)


if __name__ == "__main__":
    main()
