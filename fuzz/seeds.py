#!/usr/bin/env python3
# Writes the seed inputs of fuzz/corpus/<target>/: a few valid inputs per target, against the
# host of fuzz/VSwitch.Fuzz.Targets/Topology.cs. Run it again after changing that host; the
# fuzzer grows its own queue from these seeds (never committed).
import json, os, shutil, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(here, "corpus")

def mac(text): return bytes(int(x, 16) for x in text.split(":"))
def ip4(text): return bytes(int(x) for x in text.split("."))
def ip6(text):
    import ipaddress
    return ipaddress.IPv6Address(text).packed

def checksum(data):
    if len(data) % 2: data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def eth(dst, src, ethertype, payload): return mac(dst) + mac(src) + struct.pack("!H", ethertype) + payload
def ipv4(src, dst, proto, payload):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0, ip4(src), ip4(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload
def udp(sport, dport, payload): return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
def ipv6(src, dst, next_header, payload): return struct.pack("!IHBB", 0x60000000, len(payload), next_header, 64) + ip6(src) + ip6(dst) + payload
def arp(op, sha, spa, tha, tpa): return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + mac(sha) + ip4(spa) + mac(tha) + ip4(tpa)

A, B, C, D = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c", "02:00:00:00:00:0d"
BCAST = "ff:ff:ff:ff:ff:ff"
VTEP_MAC, HOST_B_MAC = "02:aa:00:00:00:01", "02:bb:00:00:00:02"
RED_A, RED_B, BLUE_A, BLUE_B = 0, 1, 2, 3  # Topology.VmPorts

def udp4(src_mac, dst_mac, src, dst): return eth(dst_mac, src_mac, 0x0800, ipv4(src, dst, 17, udp(1000, 2000, b"x" * 18)))

l2switch = {
    "udp4-red-a-to-red-b": bytes([RED_A]) + udp4(A, B, "10.0.0.1", "10.0.0.2"),
    "udp4-blue-b-to-blue-a": bytes([BLUE_B]) + udp4(B, A, "10.0.0.2", "10.0.0.1"),
    "udp4-red-a-to-remote-c": bytes([RED_A]) + udp4(A, C, "10.0.0.1", "10.0.0.3"),
    "arp-request-red-a-for-b": bytes([RED_A]) + eth(BCAST, A, 0x0806, arp(1, A, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.2")),
    "udp6-blue-a-multicast": bytes([BLUE_A]) + eth("33:33:00:00:00:01", A, 0x86DD, ipv6("fd00::1", "ff02::1", 17, udp(1000, 2000, b"y" * 8))),
    "vlan-red-b": bytes([RED_B]) + eth(B, A, 0x8100, struct.pack("!HH", 10, 0x0800) + b"\0" * 20),
}

def vxlan(vni): return struct.pack("!II", 0x08000000, vni << 8)
def geneve(vni, options): return struct.pack("!BBHI", len(options) // 4, 0, 0x6558, vni << 8) + options
AGREED = struct.pack("!HBB", 0x0102, 0x80, 2) + bytes.fromhex("0011223344556677")
def tunnel(src_vtep, port, header_and_inner):
    return eth(VTEP_MAC, HOST_B_MAC, 0x0800, ipv4(src_vtep, "192.168.50.1", 17, udp(50000, port, header_and_inner)))

decapsulation = {
    "vxlan-red-c-to-red-a": tunnel("192.168.50.2", 4789, vxlan(5001) + udp4(C, A, "10.0.0.3", "10.0.0.1")),
    "vxlan-blue-c-broadcast-arp": tunnel("192.168.50.2", 4789, vxlan(5002) + eth(BCAST, C, 0x0806, arp(1, C, "10.0.0.3", "00:00:00:00:00:00", "10.0.0.1"))),
    "geneve-red-d-to-red-b": tunnel("192.168.50.3", 6081, geneve(5001, AGREED) + udp4(D, B, "10.0.0.4", "10.0.0.2")),
    "geneve-blue-d-ipv6": tunnel("192.168.50.3", 6081, geneve(5002, b"") + eth(A, D, 0x86DD, ipv6("fd00::4", "fd00::1", 59, b""))),
    "arp-request-for-vtep": eth(BCAST, HOST_B_MAC, 0x0806, arp(1, HOST_B_MAC, "192.168.50.2", "00:00:00:00:00:00", "192.168.50.1")),
    "arp-reply-from-next-hop": eth(VTEP_MAC, HOST_B_MAC, 0x0806, arp(2, HOST_B_MAC, "192.168.50.2", VTEP_MAC, "192.168.50.1")),
}

topology = open(os.path.join(here, "VSwitch.Fuzz.Targets", "Topology.cs")).read()
yaml_text = topology.split('Yaml = """\n', 1)[1].split('        """;', 1)[0]
yaml_text = "".join(line[8:] + "\n" for line in yaml_text.splitlines())
config_yaml = {
    "topology.yaml": yaml_text.encode(),
    "smallest.yaml": b"dpdk: {eal_args: []}\n",
}
for name in ("vswitchd.yaml", "overlay.yaml"):
    config_yaml["example-" + name] = open(os.path.join(here, "..", "docs", "examples", name), "rb").read()

config_json = {
    "single-tenant.json": json.dumps({
        "dpdk": {"eal_args": ["-l", "0-2", "--no-huge"], "mbufs": 8191},
        "workers": {"cores": [1, 2], "idle_sleep_us": 10},
        "ports": [{"name": "vm-a", "devargs": "net_null0", "mtu": 1500, "queues": 2}, {"name": "up0", "devargs": "net_null1", "role": "uplink"}],
        "overlay": {"uplink": "up0", "vtep": "192.168.50.1/24", "remote_hosts": [{"name": "host-b", "vtep": "192.168.50.2", "tunnel": "geneve"}]},
        "tenants": [{"name": "red", "vni": 7, "vms": [{"name": "red-a", "port": "vm-a", "mac": "02:00:00:00:00:01", "ipv4": ["10.0.0.1"], "ipv6": ["fd00::1"]}],
                     "remote_vms": [{"name": "red-b", "host": "host-b", "mac": "02:00:00:00:00:02", "ipv4": ["10.0.0.2"]}]}],
    }, indent=1).encode(),
    "smallest.json": b'{"dpdk": {"eal_args": []}}',
}

def frame(message): 
    payload = message if isinstance(message, bytes) else json.dumps(message).encode()
    return struct.pack("!I", len(payload)) + payload
control_message = {
    "add-vm": frame({"op": "add-vm", "id": 1, "name": "red-z", "tenant": "red", "port": "spare", "mac": "02:00:00:00:00:99", "ipv4": ["10.0.0.9"], "ipv6": "fd00::9"}),
    "add-vm-new-tenant": frame({"op": "add-vm", "id": "x", "name": "green-a", "tenant": "green", "vni": 77, "port": "red-a", "mac": "02:00:00:00:00:0a"}),
    "add-port-then-remove": frame({"op": "add-port", "name": "vm-9", "devargs": "net_null9", "mtu": "1400", "queues": 2}) + frame({"op": "remove-port", "id": [1], "name": "vm-9"}),
    "add-remote-vm": frame({"op": "add-remote-vm", "name": "red-y", "tenant": "red", "host": "host-b", "mac": "02:00:00:00:00:98", "ipv4": ["10.0.0.8"]}),
    "status-and-bad-json": frame({"op": "status"}) + frame(b'{"op": "list",}') + frame(b"[1, 2]"),
    "truncated": frame({"op": "remove-vm", "name": "red-a"})[:-3],
}

# The virtqueue targets' input (fuzz/VSwitch.Fuzz.Targets/VirtqueueTarget.cs): size exponent,
# flags (1 EVENT_IDX, 2 INDIRECT_DESC), avail.idx, used_event, descriptors, available ring, then
# the indirect area at 0x4000.
NEXT, WRITE, INDIRECT = 1, 2, 4
def desc(addr, length, flags=0, nxt=0): return struct.pack("<QIHH", addr, length, flags, nxt)
def ring(size_exp, flags, heads, descs, avail_idx=None, used_event=0, indirect=b""):
    size = 1 << size_exp
    table = b"".join(descs).ljust(16 * size, b"\0")
    entries = b"".join(struct.pack("<H", h) for h in heads).ljust(2 * size, b"\0")
    index = len(heads) if avail_idx is None else avail_idx
    return struct.pack("<BBHH", size_exp, flags, index, used_event) + table + entries + indirect
virtqueue = {
    "two-chains": ring(3, 0, [0, 2], [desc(0x8000, 16, NEXT, 1), desc(0x9000, 1, WRITE), desc(0xa000, 32)]),
    "indirect": ring(3, 2, [0], [desc(0x4000, 48, INDIRECT)], indirect=desc(0x8000, 4, NEXT, 1) + desc(0x9000, 1, WRITE | NEXT, 2) + desc(0x20000, 4096, WRITE)),
    "event-idx": ring(2, 1, [0, 1], [desc(0x8000, 8), desc(0x9000, 8, WRITE)], used_event=1),
    "loop": ring(3, 0, [0, 2], [desc(0x8000, 8, NEXT, 1), desc(0x8100, 8, NEXT, 0), desc(0xa000, 8)]),
    "outside-ram": ring(3, 0, [0, 1, 2, 3, 4], [desc(0x18000, 16), desc(0x30000 - 8, 16), desc(0xffff_ffff_ffff_fff0, 32), desc(0xfff8, 16), desc(0x20000, 64)]),
    "readable-after-writable": ring(3, 0, [0], [desc(0x9000, 4, WRITE | NEXT, 1), desc(0x8000, 4)]),
    "head-out-of-range": ring(3, 0, [9], [desc(0x8000, 8)]),
    "avail-too-far": ring(3, 0, [0], [desc(0x8000, 8)], avail_idx=100),
    "full-queue": ring(0, 0, [0], [desc(0x8000, 8)]),
}
# The input only fills the rings and the indirect area (RAM is zero elsewhere), so a control
# request's bytes sit in the indirect area and its descriptor points there.
def control_ring(request):
    return ring(3, 0, [0], [desc(0x4000, len(request), NEXT, 1), desc(0x9000, 1, WRITE)], indirect=request)
net_control = {
    "mq-pairs-set": control_ring(bytes([4, 0, 2, 0])),
    "mq-pairs-too-many": control_ring(bytes([4, 0, 9, 0])),
    "announce-ack": control_ring(bytes([3, 0])),
    "rx-promisc": control_ring(bytes([0, 0, 1])),
    "no-ack": ring(3, 0, [0], [desc(0x4000, 4)], indirect=bytes([4, 0, 1, 0])),
    "loop": virtqueue["loop"],
    "indirect": virtqueue["indirect"],
}

targets = {"l2switch": l2switch, "decapsulation": decapsulation, "config-yaml": config_yaml, "config-json": config_json, "control-message": control_message,
           "virtqueue": virtqueue, "net-control": net_control}
for target, seeds in targets.items():
    folder = os.path.join(corpus, target)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
