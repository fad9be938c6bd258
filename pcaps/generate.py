#!/usr/bin/python3
"""Generates the pcap regression scenarios of vswitchd (see pcaps/README.md).

For every scenario this writes, under pcaps/<scenario>/:
  vswitchd.yaml            the switch config, with @IN@, @OUT@ and @PREFIX@ left for the harness
  in/<port>.pcap           what each port receives (an empty capture when it receives nothing)
  expected/<port>.pcap     what each port must transmit
  expected/counters.json   the counters vswitchd must report
  frames.txt               every input frame with its fate, for humans reading a failure

The expected side comes from this file's own model of the switching rules (the header comment of
src/Dataplane/Switching/L2Switch.cs and the issue text quoted in pcaps/README.md; for the overlay,
RFC 7348, RFC 8926 and docs/overlay.md), applied to the scenario's topology. It is never recorded from vswitchd. Every input frame also states its
intended fate; the model must agree with it, so a scenario cannot silently test something else.

Output is deterministic (fixed seeds, fixed timestamps, our own pcap writer): re-running the
generator reproduces the committed files byte for byte, and `--check` proves it.

Usage: /usr/bin/python3 pcaps/generate.py [--check] [--out DIR]
"""
import argparse
import filecmp
import ipaddress
import json
import os
import random
import shutil
import struct
import sys
import tempfile

from scapy.layers.inet import ICMP, IP, IPOption, TCP, UDP
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.dhcp6 import DHCP6_Advertise, DHCP6OptClientId, DHCP6OptServerId
from scapy.layers.inet6 import (ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6ND_Redirect, ICMPv6NDOptDstLLAddr,
                                ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop)
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Raw

HERE = os.path.dirname(os.path.abspath(__file__))


def _drop_labels():
    """The DropReason labels in enum order, from the list the dataplane pins."""
    path = os.path.join(HERE, "..", "src", "Dataplane", "Counters", "drop-reasons.txt")
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


DROP_LABELS = _drop_labels()
UNICAST, FLOOD, ARP_REPLY = "unicast", "flood", "arp_reply"
# Overlay fates: encapsulated toward a remote VM; decapsulated and delivered to one VM / flooded to
# the tenant's local ports; an ARP request for our VTEP answered; an ARP reply from a next hop taken.
ENCAP, DECAP, DECAP_FLOOD, VTEP_ARP, NEIGHBOUR_REPLY = "encap", "decap", "decap_flood", "vtep_arp_reply", "neighbour_reply"
FATES = (UNICAST, FLOOD, ARP_REPLY, ENCAP, DECAP, DECAP_FLOOD, VTEP_ARP, NEIGHBOUR_REPLY)
VXLAN_PORT, GENEVE_PORT = 4789, 6081
ETH_HEADER = 14
BROADCAST = "ff:ff:ff:ff:ff:ff"
PCAP_BASE_TIME = 1_700_000_000  # 2023-11-14T22:13:20Z; every record is stamped from here.

# ---------------------------------------------------------------------------------------------
# pcap files (libpcap classic format, microsecond stamps, LINKTYPE_ETHERNET)


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


# ---------------------------------------------------------------------------------------------
# Addresses


def mac_bytes(text):
    return bytes(int(part, 16) for part in text.split(":"))


def mac_text(raw):
    return ":".join(f"{b:02x}" for b in raw)


def internet_checksum(data):
    """RFC 1071 written out: 0 when a header that carries its checksum verifies."""
    total = sum(int.from_bytes(data[i:i + 2].ljust(2, b"\0"), "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def link_local(mac):
    """fe80::/64 + modified EUI-64 of the MAC (RFC 4291 appendix A): U/L bit flipped, ff:fe inserted."""
    raw = mac_bytes(mac)
    eui = bytes([raw[0] ^ 0x02]) + raw[1:3] + b"\xff\xfe" + raw[3:6]
    return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\x00" * 6 + eui))


def pad60(frame):
    """Ethernet minimum frame (without FCS): what a NIC or a guest driver would put on the wire."""
    frame = bytes(frame)
    return frame + b"\x00" * (60 - len(frame)) if len(frame) < 60 else frame


# ---------------------------------------------------------------------------------------------
# First-hop security (src/Dataplane/Switching/TenantGuard.cs): DHCP servers, Neighbor
# Advertisements, Router Advertisements and Redirects from VMs (RFC 4861, RFC 2131, RFC 8415)


def first_hop_ipv4(ip):
    """The drop label of an IPv4 packet whose header is valid, or None."""
    if ip[9] != 17 or struct.unpack_from("!H", ip, 6)[0] & 0x1FFF:
        return None  # not UDP, or a later fragment (no UDP header)
    ihl, total = (ip[0] & 0x0F) * 4, struct.unpack_from("!H", ip, 2)[0]
    udp = ip[ihl:total]
    if len(udp) < 8:
        return "malformed_udp"
    return "rogue_dhcp_server" if struct.unpack_from("!HH", udp, 0) == (67, 68) else None


def first_hop_ipv6(ip, mac, allow_routing, addresses):
    """The drop label of an IPv6 packet whose fixed header is valid, or None. addresses: the
    sender's own (None: not known here, the Neighbor Advertisement's target is not checked)."""
    rest = ip[40:40 + struct.unpack_from("!H", ip, 4)[0]]
    protocol, headers = ip[6], 0
    while protocol in (0, 43, 44, 60, 51):  # RFC 8200 section 4 extension headers, and AH
        if headers == 8:
            return "malformed_ipv6"
        if protocol == 44:
            length = 8
            if len(rest) >= 8 and struct.unpack_from("!H", rest, 2)[0] & 0xFFF8:
                return None  # a later fragment
        elif len(rest) < 2:
            return "malformed_ipv6"
        else:
            length = (rest[1] + 2) * 4 if protocol == 51 else (rest[1] + 1) * 8
        if length > len(rest):
            return "malformed_ipv6"
        protocol, rest, headers = rest[0], rest[length:], headers + 1
    if protocol == 17:
        if len(rest) < 8:
            return "malformed_udp"
        return "rogue_dhcp_server" if struct.unpack_from("!HH", rest, 0) == (547, 546) else None
    if protocol != 58:
        return None
    if len(rest) < 4:
        return "malformed_icmpv6"
    if rest[0] in (134, 137):
        return None if allow_routing else ("rogue_router_advertisement" if rest[0] == 134 else "rogue_redirect")
    if rest[0] != 136:
        return None
    if len(rest) < 24:
        return "malformed_icmpv6"
    spoofed = addresses is not None and str(ipaddress.IPv6Address(rest[8:24])) not in addresses
    options = rest[24:]
    while options:
        length = options[1] * 8 if len(options) >= 2 else 0
        if length == 0 or length > len(options):
            return "malformed_icmpv6"
        if options[0] == 2 and (length < 8 or mac_text(options[2:8]) != mac):
            spoofed = True
        options = options[length:]
    return "spoofed_neighbor_advertisement" if spoofed else None


# ---------------------------------------------------------------------------------------------
# Topology


class Port:
    def __init__(self, name, role, mtu, queues, index):
        self.name, self.role, self.mtu, self.queues, self.index = name, role, mtu, queues, index
        self.inputs = []   # (frame bytes, intent, note)
        self.outputs = []  # (frame bytes, ingress port name)

    @property
    def max_frame(self):
        return self.mtu + ETH_HEADER


class Vm:
    def __init__(self, tenant, name, port, mac, ipv4, ipv6, allow_routing=False, flood_burst=None):
        self.tenant, self.name, self.port, self.mac = tenant, name, port, mac
        self.ipv4 = [str(ipaddress.IPv4Address(a)) for a in ipv4]
        self.ipv6 = [str(ipaddress.IPv6Address(a)) for a in ipv6]
        self.link_local = link_local(mac)
        # flood_burst: set only with flood_rate_pps 1, so that no token comes back during a
        # replay (well under a second): the VM floods exactly flood_burst frames.
        self.allow_routing, self.flood_burst, self.floods = allow_routing, flood_burst, 0


class RemoteHost:
    def __init__(self, name, vtep, tunnel, options=()):
        assert tunnel in ("vxlan", "geneve"), tunnel
        self.name, self.vtep, self.tunnel = name, vtep, tunnel
        self.options = list(options)  # (class, type, data bytes)
        self.port = VXLAN_PORT if tunnel == "vxlan" else GENEVE_PORT


class RemoteVm:
    def __init__(self, tenant, name, host, mac, ipv4):
        self.tenant, self.name, self.host, self.mac = tenant, name, host, mac
        self.ipv4 = [str(ipaddress.IPv4Address(a)) for a in ipv4]
        self.allow_routing = False


class Overlay:
    """The overlay section: this host's VTEP behind the uplink, remote hosts, static neighbours."""

    def __init__(self, uplink, vtep, prefix, mac, ttl=64, gateway=None):
        self.uplink, self.vtep, self.prefix, self.mac, self.ttl, self.gateway = uplink, vtep, prefix, mac, ttl, gateway
        self.hosts, self.static_neighbours = {}, {}

    def on_link(self, ip):
        return ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(f"{self.vtep}/{self.prefix}", strict=False)

    def next_hop(self, host):
        return host.vtep if self.on_link(host.vtep) or self.gateway is None else self.gateway


class Scenario:
    def __init__(self, name, summary):
        self.name, self.summary = name, summary
        self.ports, self.tenants, self.vms = {}, [], []
        self.overlay, self.vnis, self.remote_vms = None, {}, []
        self.extra = {}  # overlay counters the model adds up while classifying
        self.injected = []  # frames vswitchd sends by itself (ARP requests), with the port they leave on
        self.rng = random.Random(f"vswitch-pcaps/{name}")

    def port(self, name, role="vm", mtu=1500, queues=1):
        self.ports[name] = Port(name, role, mtu, queues, len(self.ports))
        return name

    def vm(self, tenant, name, port, mac, ipv4=(), ipv6=(), allow_routing=False, flood_burst=None):
        assert port in self.ports and self.ports[port].role == "vm", port
        assert all(v.port != port for v in self.vms), f"{port} already has a VM"
        if tenant not in self.tenants:
            self.tenants.append(tenant)
        v = Vm(tenant, name, port, mac, ipv4, ipv6, allow_routing, flood_burst)
        self.vms.append(v)
        return v

    def set_overlay(self, uplink, vtep, prefix, mac, ttl=64, gateway=None):
        assert self.ports[uplink].role == "uplink"
        self.overlay = Overlay(uplink, vtep, prefix, mac, ttl, gateway)
        return self.overlay

    def remote_host(self, name, vtep, tunnel, options=()):
        self.overlay.hosts[name] = RemoteHost(name, vtep, tunnel, options)
        return self.overlay.hosts[name]

    def remote_vm(self, tenant, name, host, mac, ipv4=()):
        assert host in self.overlay.hosts and tenant in self.tenants, (host, tenant)
        v = RemoteVm(tenant, name, host, mac, ipv4)
        self.remote_vms.append(v)
        return v

    def send(self, port, frame, intent, note):
        assert intent in FATES or intent in DROP_LABELS, intent
        self.ports[port].inputs.append((bytes(frame), intent, note))

    def payload(self, size, tag):
        """Deterministic pseudo-random bytes of the given size, starting with a readable tag."""
        head = f"{self.name}:{tag}:".encode()
        body = bytes(self.rng.getrandbits(8) for _ in range(max(0, size - len(head))))
        return (head + body)[:size]

    # --- the switch model ------------------------------------------------------------------

    def vm_on(self, port):
        return next((v for v in self.vms if v.port == port), None)

    def tenant_vm_by_mac(self, tenant, mac):
        return next((v for v in self.vms if v.tenant == tenant and v.mac == mac), None)

    def tenant_vm_by_ipv4(self, tenant, ip):
        """The VM, local or remote, holding the address: the ARP responder answers for both."""
        return next((v for v in self.vms + self.remote_vms if v.tenant == tenant and ip in v.ipv4), None)

    def classify(self, port_name, frame):
        """Returns (fate, egress port names, frame to transmit). fate: UNICAST, FLOOD, ARP_REPLY or a drop label."""
        port = self.ports[port_name]
        if port.role == "uplink" and self.overlay is not None and self.overlay.uplink == port_name:
            return self.classify_uplink(frame)
        if port.role == "uplink":
            return "uplink_no_overlay", [], None
        vm = self.vm_on(port_name)
        if vm is None:
            return "unbound_port", [], None
        if len(frame) < ETH_HEADER:
            return "runt_frame", [], None
        if len(frame) > port.max_frame:
            return "oversize", [], None
        if mac_text(frame[6:12]) != vm.mac:
            return "spoofed_source_mac", [], None
        ether_type, = struct.unpack_from("!H", frame, 12)
        l3 = frame[ETH_HEADER:]
        if ether_type == 0x0800:
            if len(l3) < 20:
                return "malformed_ipv4", [], None
            ihl = (l3[0] & 0x0F) * 4
            total, = struct.unpack_from("!H", l3, 2)
            if l3[0] >> 4 != 4 or ihl < 20 or ihl > len(l3) or total < ihl or total > len(l3):
                return "malformed_ipv4", [], None
            if str(ipaddress.IPv4Address(l3[12:16])) not in vm.ipv4:
                return "spoofed_ipv4_source", [], None
            guard = first_hop_ipv4(l3)
            if guard:
                return guard, [], None
        elif ether_type == 0x0806:
            if len(l3) < 8 or 8 + 2 * (l3[4] + l3[5]) > len(l3):
                return "malformed_arp", [], None
            htype, ptype, hlen, plen, oper = struct.unpack_from("!HHBBH", l3, 0)
            if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
                return "malformed_arp", [], None
            sha, spa = mac_text(l3[8:14]), str(ipaddress.IPv4Address(l3[14:18]))
            tpa = str(ipaddress.IPv4Address(l3[24:28]))
            if sha != vm.mac or spa not in vm.ipv4:
                return "spoofed_arp_sender", [], None
            owner = self.tenant_vm_by_ipv4(vm.tenant, tpa)
            if oper == 1 and tpa != spa and owner is not None:
                reply = bytearray(frame)
                reply[0:6] = mac_bytes(vm.mac)
                reply[6:12] = mac_bytes(owner.mac)
                a = ETH_HEADER
                reply[a + 6:a + 8] = b"\x00\x02"
                reply[a + 8:a + 14] = mac_bytes(owner.mac)
                reply[a + 14:a + 18] = ipaddress.IPv4Address(tpa).packed
                reply[a + 18:a + 24] = mac_bytes(vm.mac)
                reply[a + 24:a + 28] = ipaddress.IPv4Address(spa).packed
                return ARP_REPLY, [port_name], bytes(reply)
        elif ether_type == 0x86DD:
            if len(l3) < 40 or l3[0] >> 4 != 6:
                return "malformed_ipv6", [], None
            payload_length, = struct.unpack_from("!H", l3, 4)
            if 40 + payload_length > len(l3):
                return "malformed_ipv6", [], None
            source = str(ipaddress.IPv6Address(l3[8:24]))
            if source not in vm.ipv6 and source != vm.link_local:
                return "spoofed_ipv6_source", [], None
            guard = first_hop_ipv6(l3, vm.mac, vm.allow_routing, vm.ipv6 + [vm.link_local])
            if guard:
                return guard, [], None
        elif ether_type in (0x8100, 0x88A8, 0x9100):
            return "vlan_tagged", [], None

        destination = mac_text(frame[0:6])
        egress = None if frame[0] & 1 else self.tenant_vm_by_mac(vm.tenant, destination)
        if egress is None and self.flood_limited(vm, frame):
            return "flood_rate_exceeded", [], None
        if self.overlay is not None:
            return self.classify_overlay_destination(port_name, vm, frame, egress)
        if egress is None:
            targets = [v.port for v in self.vms if v.tenant == vm.tenant and v.port != port_name]
            if not targets:
                return "no_flood_target", [], None
            # What a flooded frame that one target's MTU cannot take should do is not specified:
            # scenarios stay clear of it.
            assert all(len(frame) <= self.ports[t].max_frame for t in targets), "flood beyond an egress MTU"
            return FLOOD, targets, frame
        if egress.port == port_name:
            return "hairpin", [], None
        if len(frame) > self.ports[egress.port].max_frame:
            return "egress_mtu_exceeded", [], None
        return UNICAST, [egress.port], frame

    def flood_limited(self, vm, frame):
        """Broadcast, multicast and unknown unicast take a token of the VM's flood bucket; unicast to a remote VM does not."""
        if self.overlay is not None and not frame[0] & 1 and self.remote_by_mac(vm.tenant, mac_text(frame[0:6])):
            return False
        vm.floods += 1
        return vm.flood_burst is not None and vm.floods > vm.flood_burst

    # --- the overlay model (docs/overlay.md; the order of checks is that of src/Dataplane/Overlay/Decapsulation.cs)

    def count(self, counter, n=1):
        self.extra[counter] = self.extra.get(counter, 0) + n

    def remote_by_mac(self, tenant, mac):
        return next((r for r in self.remote_vms if r.tenant == tenant and r.mac == mac), None)

    def flood_hosts(self, tenant):
        """Hosts of the tenant's remote VMs, in the order the config first names them."""
        names = []
        for tenant_name in self.tenants:
            for r in self.remote_vms:
                if r.tenant == tenant_name == tenant and r.host not in names:
                    names.append(r.host)
        return [self.overlay.hosts[n] for n in names]

    def encapsulate(self, tenant, host, inner):
        """(fate-or-drop, outer frame): the RFC 7348 / RFC 8926 framing the switch must produce."""
        o = self.overlay
        header = tunnel_header(host, self.vnis[tenant])
        if len(inner) + 50 - 8 + len(header) > self.ports[o.uplink].max_frame:
            return "encap_exceeds_mtu", None
        neighbour = o.static_neighbours.get(o.next_hop(host))
        if neighbour is None:
            return "neighbour_unresolved", None
        outer = (Ether(src=o.mac, dst=neighbour) / IP(src=o.vtep, dst=host.vtep, id=0, flags="DF", ttl=o.ttl)
                 / UDP(sport=source_port(inner), dport=host.port, chksum=0) / Raw(header + inner))
        return ENCAP, bytes(outer)

    def classify_overlay_destination(self, port_name, vm, frame, egress):
        if egress is not None:
            if egress.port == port_name:
                return "hairpin", [], None
            if len(frame) > self.ports[egress.port].max_frame:
                return "egress_mtu_exceeded", [], None
            return UNICAST, [egress.port], frame
        destination = mac_text(frame[0:6])
        remote = None if frame[0] & 1 else self.remote_by_mac(vm.tenant, destination)
        if remote is not None:
            fate, outer = self.encapsulate(vm.tenant, self.overlay.hosts[remote.host], frame)
            if fate != ENCAP:
                return fate, [], None
            self.count("encapsulated")
            self.count(f"tunnel:{remote.host}:encap")
            return ENCAP, [(self.overlay.uplink, outer)], None
        targets = [v.port for v in self.vms if v.tenant == vm.tenant and v.port != port_name]
        # Broadcast and multicast go to every remote host of the tenant too; unknown unicast does
        # not: every remote MAC is programmed, so a remote host could only drop it.
        hosts = self.flood_hosts(vm.tenant) if frame[0] & 1 else []
        if not targets and not hosts:
            return "no_flood_target", [], None
        assert all(len(frame) <= self.ports[t].max_frame for t in targets), "flood beyond an egress MTU"
        outputs = [(t, frame) for t in targets]
        for host in hosts:
            fate, outer = self.encapsulate(vm.tenant, host, frame)
            assert fate == ENCAP, f"a replica that cannot go ({fate}): scenarios stay clear of per-copy drops"
            self.count("encapsulated")
            self.count(f"tunnel:{host.name}:encap")
            outputs.append((self.overlay.uplink, outer))
        return FLOOD, outputs, None

    def classify_uplink(self, frame):
        o = self.overlay
        if len(frame) < ETH_HEADER:
            return "runt_frame", [], None
        if len(frame) > self.ports[o.uplink].max_frame:
            return "oversize", [], None
        ether_type, = struct.unpack_from("!H", frame, 12)
        if ether_type == 0x0806:
            return self.classify_underlay_arp(frame)
        if ether_type != 0x0800:
            return "uplink_not_tunnel", [], None
        ip = frame[ETH_HEADER:]
        if len(ip) < 20:
            return "malformed_outer", [], None
        ihl = (ip[0] & 0x0F) * 4
        total, = struct.unpack_from("!H", ip, 2)
        if ip[0] >> 4 != 4 or ihl < 20 or ihl > len(ip) or total < ihl or total > len(ip):
            return "malformed_outer", [], None
        if ip[9] != 17:
            return "uplink_not_tunnel", [], None
        if struct.unpack_from("!H", ip, 6)[0] & 0x3FFF:
            return "outer_fragment", [], None
        if ihl != 20:
            return "outer_ip_options", [], None
        if internet_checksum(ip[:20]) != 0:
            return "bad_outer_checksum", [], None
        udp = ip[20:total]
        if len(udp) < 8:
            return "malformed_outer", [], None
        _, dport, udp_length = struct.unpack_from("!HHH", udp, 0)
        if udp_length < 8 or udp_length > len(udp):
            return "malformed_outer", [], None
        if dport not in (VXLAN_PORT, GENEVE_PORT):
            return "uplink_not_tunnel", [], None
        if mac_text(frame[0:6]) != o.mac:
            return "wrong_destination_mac", [], None
        if str(ipaddress.IPv4Address(ip[16:20])) != o.vtep:
            return "wrong_destination_vtep", [], None
        host = next((h for h in o.hosts.values() if h.vtep == str(ipaddress.IPv4Address(ip[12:16]))), None)
        if host is None:
            return "unknown_source_vtep", [], None
        if dport != host.port:
            return "tunnel_type_mismatch", [], None
        payload = udp[8:udp_length]
        options = critical = 0
        if host.tunnel == "vxlan":
            if len(payload) < 8 or not payload[0] & 0x08:
                return "malformed_tunnel_header", [], None
            vni, offset = int.from_bytes(payload[4:7], "big"), 8
        else:
            if len(payload) < 8 or payload[0] >> 6 != 0 or payload[2:4] != b"\x65\x58":
                return "malformed_tunnel_header", [], None
            offset = 8 + (payload[0] & 0x3F) * 4
            if offset > len(payload):
                return "bad_geneve_option_length", [], None
            if payload[1] & 0x80:
                return "geneve_control_packet", [], None
            known = {(c, t) for c, t, _ in host.options}
            at = 8
            while at < offset:
                if at + 4 > offset or at + 4 + (payload[at + 3] & 0x1F) * 4 > offset:
                    return "bad_geneve_option_length", [], None
                cls, typ = struct.unpack_from("!HB", payload, at)
                if typ & 0x80:
                    if (cls, typ) not in known:
                        return "geneve_critical_option", [], None
                    critical += 1
                options += 1
                at += 4 + (payload[at + 3] & 0x1F) * 4
            vni = int.from_bytes(payload[4:7], "big")
        tenant = next((t for t, v in self.vnis.items() if v == vni), None)
        if tenant is None:
            return "unknown_vni", [], None
        inner = payload[offset:]
        fate = self.check_inner(tenant, host, inner)
        if fate in DROP_LABELS and fate not in ("no_flood_target", "unknown_inner_destination", "egress_mtu_exceeded"):
            return fate, [], None
        # Past the tunnel and source checks the frame counts as decapsulated, wherever it then goes.
        self.count("decapsulated")
        self.count(f"tunnel:{host.name}:decap")
        self.count(f"tunnel:{host.name}:geneve_options", options)
        self.count(f"tunnel:{host.name}:geneve_critical_options", critical)
        if fate in DROP_LABELS:
            self.count("decapsulated", -1)
            self.count(f"tunnel:{host.name}:decap", -1)
            self.count(f"tunnel:{host.name}:geneve_options", -options)
            self.count(f"tunnel:{host.name}:geneve_critical_options", -critical)
            return fate, [], None
        if fate == DECAP_FLOOD:
            targets = [v.port for v in self.vms if v.tenant == tenant]
            return DECAP_FLOOD, [(t, inner) for t in targets], None
        return DECAP, [(self.tenant_vm_by_mac(tenant, mac_text(inner[0:6])).port, inner)], None

    def check_inner(self, tenant, host, inner):
        if len(inner) < ETH_HEADER:
            return "malformed_inner"
        sender = self.remote_by_mac(tenant, mac_text(inner[6:12]))
        if sender is None or sender.host != host.name:
            return "spoofed_inner_source"
        ether_type, = struct.unpack_from("!H", inner, 12)
        l3 = inner[ETH_HEADER:]
        if ether_type == 0x0800:
            if len(l3) < 20:
                return "malformed_ipv4"
            ihl, total = (l3[0] & 0x0F) * 4, struct.unpack_from("!H", l3, 2)[0]
            if l3[0] >> 4 != 4 or ihl < 20 or ihl > len(l3) or total < ihl or total > len(l3):
                return "malformed_ipv4"
            if str(ipaddress.IPv4Address(l3[12:16])) not in sender.ipv4:
                return "spoofed_ipv4_source"
            guard = first_hop_ipv4(l3)
            if guard:
                return guard
        elif ether_type == 0x0806:
            if len(l3) < 8 or 8 + 2 * (l3[4] + l3[5]) > len(l3) or struct.unpack_from("!HHBB", l3, 0) != (1, 0x0800, 6, 4):
                return "malformed_arp"
            if mac_text(l3[8:14]) != sender.mac or str(ipaddress.IPv4Address(l3[14:18])) not in sender.ipv4:
                return "spoofed_arp_sender"
        elif ether_type == 0x86DD:
            if len(l3) < 40 or l3[0] >> 4 != 6 or 40 + struct.unpack_from("!H", l3, 4)[0] > len(l3):
                return "malformed_ipv6"
            # Remote VMs have no IPv6 bindings here: a Neighbor Advertisement's target is not checked.
            guard = first_hop_ipv6(l3, sender.mac, sender.allow_routing, None)
            if guard:
                return guard
        elif ether_type in (0x8100, 0x88A8, 0x9100):
            return "vlan_tagged"
        if inner[0] & 1:
            return DECAP_FLOOD if any(v.tenant == tenant for v in self.vms) else "no_flood_target"
        local = self.tenant_vm_by_mac(tenant, mac_text(inner[0:6]))
        if local is None:
            return "unknown_inner_destination"
        if len(inner) > self.ports[local.port].max_frame:
            return "egress_mtu_exceeded"
        return DECAP

    def classify_underlay_arp(self, frame):
        o = self.overlay
        arp = frame[ETH_HEADER:]
        if len(arp) < 8 or 8 + 2 * (arp[4] + arp[5]) > len(arp) or struct.unpack_from("!HHBB", arp, 0) != (1, 0x0800, 6, 4):
            return "malformed_arp", [], None
        oper, = struct.unpack_from("!H", arp, 6)
        if oper not in (1, 2) or str(ipaddress.IPv4Address(arp[24:28])) != o.vtep:
            return "uplink_not_tunnel", [], None
        sender_ip = str(ipaddress.IPv4Address(arp[14:18]))
        if sender_ip == o.vtep or arp[8:14] == bytes(6) or arp[8] & 1:
            return "uplink_not_tunnel", [], None
        next_hops = {o.next_hop(h) for h in o.hosts.values()}
        if oper == 1:
            reply = bytearray(frame)
            reply[0:6] = arp[8:14]
            reply[6:12] = mac_bytes(o.mac)
            a = ETH_HEADER
            reply[a + 6:a + 8] = b"\x00\x02"
            reply[a + 18:a + 28] = arp[8:18]
            reply[a + 8:a + 14] = mac_bytes(o.mac)
            reply[a + 14:a + 18] = ipaddress.IPv4Address(o.vtep).packed
            return VTEP_ARP, [(o.uplink, bytes(reply))], None
        if oper == 2 and sender_ip in next_hops:
            return NEIGHBOUR_REPLY, [], None
        return "uplink_not_tunnel", [], None

    # --- output ------------------------------------------------------------------------------

    def run_model(self):
        drops = {label: 0 for label in DROP_LABELS}
        totals = {fate: 0 for fate in FATES}
        for port, frame, note in self.injected:
            self.ports[port].outputs.append((frame, "vswitchd"))
        lines = [f"# {self.name}: {self.summary}", "# port #n (bytes) fate [-> egress]: what the frame is"]
        for port in self.ports.values():
            for n, (frame, intent, note) in enumerate(port.inputs, 1):
                fate, egress, out = self.classify(port.name, frame)
                if fate != intent:
                    raise AssertionError(f"{self.name}: {port.name} frame {n} ({note}): model says {fate}, scenario intends {intent}")
                if fate in totals:
                    totals[fate] += 1
                else:
                    drops[fate] += 1
                pairs = egress if out is None else [(e, out) for e in egress]
                for e, frame_out in pairs:
                    self.ports[e].outputs.append((frame_out, port.name))
                names = list(dict.fromkeys(e for e, _ in pairs))
                where = f" -> {','.join(names)}" if names else ""
                lines.append(f"{port.name} #{n} ({len(frame)} B) {fate}{where}: {note}")
        self.check_order_keys()
        counters = {
            "ports": {p.name: {"rx": len(p.inputs), "tx": len(p.outputs)} for p in self.ports.values()},
            "drops": {label: n for label, n in drops.items() if n},
            "unicast": totals[UNICAST],
            "flooded": totals[FLOOD],
            "arp_replies": totals[ARP_REPLY],
        }
        if self.overlay is not None:
            # Decapsulated frames delivered to one VM count as unicast, decapsulated floods as flooded.
            counters["unicast"] += totals[DECAP]
            counters["flooded"] += totals[DECAP_FLOOD]
            counters["encapsulated"] = self.extra.get("encapsulated", 0)
            counters["decapsulated"] = self.extra.get("decapsulated", 0)
            counters["vtep_arp_replies"] = totals[VTEP_ARP]
            counters["neighbour_replies"] = totals[NEIGHBOUR_REPLY]
            counters["arp_requests_sent"] = len(self.injected)
            counters["tunnels"] = {
                h.name: {k: self.extra.get(f"tunnel:{h.name}:{k}", 0) for k in ("encap", "decap", "geneve_options", "geneve_critical_options")}
                for h in self.overlay.hosts.values()
            }
            for port, frame, note in self.injected:
                lines.append(f"{port} (sent by vswitchd, {len(frame)} B): {note}")
        return counters, "\n".join(lines) + "\n"

    def check_order_keys(self):
        """The harness checks the order of each source MAC's frames on each output. Frames that one
        worker takes from different ingress ports may interleave in any way, so on every output a
        source MAC must come from one ingress port only (an ARP reply comes from the requester's port)."""
        for port in self.ports.values():
            seen = {}
            for frame, ingress in port.outputs:
                src = order_key(frame)
                if seen.setdefault(src, ingress) != ingress:
                    raise AssertionError(f"{self.name}: output {port.name} gets source MAC {src} from {seen[src]} and {ingress}")

    def config_yaml(self):
        lines = [
            f"# Scenario '{self.name}': {self.summary}",
            "# Generated by pcaps/generate.py; do not edit. @IN@, @OUT@ and @PREFIX@ are set by the test harness.",
            "dpdk:",
            '  eal_args: ["--no-huge", "-m", "256", "--no-pci", "-l", "0,1", "--file-prefix", "@PREFIX@"]',
            "workers: {cores: [1], idle_sleep_us: 100}",
            'control_socket: "@OUT@/vswitchd.sock"',
            "ports:",
        ]
        for p in self.ports.values():
            devargs = f"net_pcap{p.index},rx_pcap=@IN@/{p.name}.pcap,tx_pcap=@OUT@/{p.name}.pcap"
            extra = f", mtu: {p.mtu}, queues: {p.queues}" if p.role == "vm" else (f", mtu: {p.mtu}" if self.overlay else "")
            lines.append(f'  - {{name: {p.name}, devargs: "{devargs}", role: {p.role}{extra}}}')
        if self.overlay is not None:
            o = self.overlay
            lines += ["overlay:", f"  uplink: {o.uplink}", f"  vtep: {o.vtep}/{o.prefix}", f'  mac: "{o.mac}"', f"  ttl: {o.ttl}"]
            if o.gateway:
                lines.append(f"  gateway: {o.gateway}")
            if o.static_neighbours:
                lines.append("  static_neighbours:")
                lines += [f'    - {{ip: {ip}, mac: "{mac}"}}' for ip, mac in o.static_neighbours.items()]
            lines.append("  remote_hosts:")
            for h in o.hosts.values():
                lines.append(f"    - name: {h.name}\n      vtep: {h.vtep}\n      tunnel: {h.tunnel}")
                if h.options:
                    lines.append("      geneve_options:")
                    lines += [f'        - {{class: 0x{c:04x}, type: 0x{t:02x}, data: "{d.hex()}"}}' for c, t, d in h.options]
        lines.append("tenants:")
        for tenant in self.tenants:
            lines.append(f"  - name: {tenant}")
            if tenant in self.vnis:
                lines.append(f"    vni: {self.vnis[tenant]}")
            lines.append("    vms:")
            for v in (v for v in self.vms if v.tenant == tenant):
                v4 = ", ".join(f'"{a}"' for a in v.ipv4)
                v6 = ", ".join(f'"{a}"' for a in v.ipv6)
                extra = (", allow_routing: true" if v.allow_routing else "") + (f", flood_rate_pps: 1, flood_burst: {v.flood_burst}" if v.flood_burst else "")
                lines.append(f'      - {{name: {v.name}, port: {v.port}, mac: "{v.mac}", ipv4: [{v4}], ipv6: [{v6}]{extra}}}')
            remote = [r for r in self.remote_vms if r.tenant == tenant]
            if remote:
                lines.append("    remote_vms:")
                for r in remote:
                    v4 = ", ".join(f'"{a}"' for a in r.ipv4)
                    lines.append(f'      - {{name: {r.name}, host: {r.host}, mac: "{r.mac}", ipv4: [{v4}]}}')
        return "\n".join(lines) + "\n"

    def write(self, root):
        counters, frames_txt = self.run_model()
        directory = os.path.join(root, self.name)
        for sub in ("in", "expected"):
            os.makedirs(os.path.join(directory, sub), exist_ok=True)
        files = {
            "vswitchd.yaml": self.config_yaml().encode(),
            "frames.txt": frames_txt.encode(),
            "expected/counters.json": (json.dumps(counters, indent=2) + "\n").encode(),
        }
        for p in self.ports.values():
            files[f"in/{p.name}.pcap"] = pcap_bytes([f for f, _, _ in p.inputs])
            files[f"expected/{p.name}.pcap"] = pcap_bytes([f for f, _ in p.outputs])
        for rel, data in files.items():
            with open(os.path.join(directory, rel), "wb") as f:
                f.write(data)
        # Read back what was written: the files must say what the model said.
        for p in self.ports.values():
            assert read_pcap(os.path.join(directory, "in", p.name + ".pcap")) == [f for f, _, _ in p.inputs]
            assert read_pcap(os.path.join(directory, "expected", p.name + ".pcap")) == [f for f, _ in p.outputs]
        return counters


# ---------------------------------------------------------------------------------------------
# Overlay framing (RFC 7348 section 5, RFC 8926 sections 3.4-3.5)


def vxlan_header(vni, flags=0x08):
    return struct.pack("!B3xI", flags, vni << 8)


def geneve_option(cls, typ, data, length_words=None):
    return struct.pack("!HBB", cls, typ, len(data) // 4 if length_words is None else length_words) + data


def geneve_header(vni, options=b"", flags=None, protocol=0x6558, opt_len_words=None, version=0):
    """flags default: C set when any option has the critical bit (RFC 8926 section 3.4)."""
    if flags is None:
        flags, at = 0, 0
        while at + 4 <= len(options):
            flags |= 0x40 if options[at + 2] & 0x80 else 0
            at += 4 + (options[at + 3] & 0x1F) * 4
    words = len(options) // 4 if opt_len_words is None else opt_len_words
    return struct.pack("!BBHI", version << 6 | words, flags, protocol, vni << 8) + options


def tunnel_header(host, vni):
    if host.tunnel == "vxlan":
        return vxlan_header(vni)
    return geneve_header(vni, b"".join(geneve_option(c, t, d) for c, t, d in host.options))


def flow_hash(frame):
    """src/Dataplane/Switching/FlowHash.cs: the IPv4 5-tuple (addresses only for fragments and
    non-TCP/UDP) or the MAC pair, through MurmurHash3's fmix64; the low 32 bits."""
    mask = (1 << 64) - 1
    if len(frame) >= 34 and frame[12:14] == b"\x08\x00":
        ip = frame[14:]
        h = int.from_bytes(ip[12:20], "big") ^ ip[9]
        ihl = (ip[0] & 0x0F) * 4
        fragment = int.from_bytes(ip[6:8], "big") & 0x3FFF
        if not fragment and ip[9] in (6, 17) and len(ip) >= ihl + 4:
            h ^= int.from_bytes(ip[ihl:ihl + 4], "big") << 17
    else:
        h = int.from_bytes(frame[0:8], "big") ^ (int.from_bytes(frame[8:12], "big") << 13)
    h &= mask
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & mask
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & mask
    h ^= h >> 33
    return h & 0xFFFFFFFF


def source_port(inner):
    """The inner flow's hash mapped into 49152..65535 (docs/overlay.md, "UDP source port")."""
    return 49152 + ((flow_hash(inner) * 16384) >> 32)


def order_key(frame):
    """What the harness keeps in order on an output (FrameComparison.SourceKey): the source MAC,
    or for VXLAN/GENEVE the inner frame's source MAC, since every tunnel frame has the VTEP's."""
    if len(frame) >= 50 and frame[12:14] == b"\x08\x00" and frame[14] == 0x45 and frame[23] == 17:
        port = int.from_bytes(frame[36:38], "big")
        inner = 50 if port == VXLAN_PORT else 50 + (frame[42] & 0x3F) * 4 if port == GENEVE_PORT else None
        if inner is not None and len(frame) >= inner + 12:
            return "inner " + mac_text(frame[inner + 6:inner + 12])
    return mac_text(frame[6:12])


# ---------------------------------------------------------------------------------------------
# Frame builders (scapy; every checksum computed, every field fixed)


def udp4(s, src_vm, dst_mac, src_ip, dst_ip, size, tag, sport=40000, dport=9, src_mac=None):
    """An Ethernet/IPv4/UDP frame of exactly `size` bytes (or 60 when smaller)."""
    head = Ether(src=src_mac or src_vm.mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip, id=0x1234, ttl=64) / UDP(sport=sport, dport=dport)
    room = max(0, size - len(head))
    return pad60(head / Raw(s.payload(room, tag)))


def udp6(s, src_vm, dst_mac, src_ip, dst_ip, size, tag, src_mac=None):
    head = Ether(src=src_mac or src_vm.mac, dst=dst_mac) / IPv6(src=src_ip, dst=dst_ip, hlim=64) / UDP(sport=40000, dport=9)
    room = max(0, size - len(head))
    return pad60(head / Raw(s.payload(room, tag)))


def arp(src_vm, op, sha, spa, tha, tpa, dst=BROADCAST, src_mac=None, padded=True):
    frame = Ether(src=src_mac or src_vm.mac, dst=dst) / ARP(op=op, hwsrc=sha, psrc=spa, hwdst=tha, pdst=tpa)
    return pad60(frame) if padded else bytes(frame)


def dhcp_rebind(vm, ip, kind="request"):
    """A DHCP broadcast from the VM (a rebinding DHCPREQUEST, or a DHCPDISCOVER from 0.0.0.0)."""
    options = [("message-type", kind), ("client_id", b"\x01" + mac_bytes(vm.mac)), "end"]
    return pad60(Ether(src=vm.mac, dst=BROADCAST) / IP(src=ip, dst="255.255.255.255", id=0x4444)
                 / UDP(sport=68, dport=67) / BOOTP(chaddr=mac_bytes(vm.mac) + b"\x00" * 10, ciaddr=ip, xid=0x1020304) / DHCP(options=options))


def mdns_query(vm, ip, name):
    return pad60(Ether(src=vm.mac, dst="01:00:5e:00:00:fb") / IP(src=ip, dst="224.0.0.251", ttl=255, id=0x5555)
                 / UDP(sport=5353, dport=5353) / DNS(id=0, rd=0, qd=DNSQR(qname=name, qtype="PTR")))


def raw_frame(dst, src, ether_type, body):
    return pad60(mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ether_type) + bytes(body))


# ---------------------------------------------------------------------------------------------
# Scenarios


def mac(n, tenant_byte=0):
    return f"02:00:00:00:{tenant_byte:02x}:{n:02x}"


def scenario_unicast():
    s = Scenario("unicast", "known unicast within a tenant goes to exactly the owner's port")
    for p in ("vm-a", "vm-b", "vm-c", "vm-d"):
        s.port(p)
    a = s.vm("red", "red-a", "vm-a", mac(1, 1), ["10.0.0.1"], ["fd00:1::1"])
    b = s.vm("red", "red-b", "vm-b", mac(2, 1), ["10.0.0.2"], ["fd00:1::2"])
    c = s.vm("blue", "blue-c", "vm-c", mac(3, 2), ["10.0.1.3"], ["fd00:2::3"])
    d = s.vm("blue", "blue-d", "vm-d", mac(4, 2), ["10.0.1.4"], ["fd00:2::4"])
    for i, size in enumerate((60, 128, 512, 1000, 1514)):
        s.send("vm-a", udp4(s, a, b.mac, "10.0.0.1", "10.0.0.2", size, f"a>b{i}"), UNICAST, f"IPv4/UDP red-a -> red-b, {size} B")
    s.send("vm-a", pad60(Ether(src=a.mac, dst=b.mac) / IP(src="10.0.0.1", dst="10.0.0.2", id=7) / TCP(sport=40001, dport=80, flags="S", seq=1000, window=64240)),
           UNICAST, "IPv4/TCP SYN red-a -> red-b")
    s.send("vm-a", pad60(Ether(src=a.mac, dst=b.mac) / IP(src="10.0.0.1", dst="10.0.0.2", id=8) / ICMP(type=8, id=1, seq=1) / Raw(s.payload(32, "ping"))),
           UNICAST, "ICMP echo red-a -> red-b")
    s.send("vm-a", udp6(s, a, b.mac, "fd00:1::1", "fd00:1::2", 200, "a>b6"), UNICAST, "IPv6/UDP red-a -> red-b")
    for i in range(3):
        s.send("vm-b", udp4(s, b, a.mac, "10.0.0.2", "10.0.0.1", 60 + 100 * i, f"b>a{i}"), UNICAST, "IPv4/UDP red-b -> red-a")
    s.send("vm-b", udp6(s, b, a.mac, "fd00:1::2", "fd00:1::1", 90, "b>a6"), UNICAST, "IPv6/UDP red-b -> red-a")
    for i in range(3):
        s.send("vm-c", udp4(s, c, d.mac, "10.0.1.3", "10.0.1.4", 80 + 50 * i, f"c>d{i}"), UNICAST, "IPv4/UDP blue-c -> blue-d")
    s.send("vm-d", udp4(s, d, c.mac, "10.0.1.4", "10.0.1.3", 64, "d>c"), UNICAST, "IPv4/UDP blue-d -> blue-c")
    s.send("vm-d", pad60(Ether(src=d.mac, dst=c.mac) / IPv6(src="fd00:2::4", dst="fd00:2::3") / ICMPv6EchoRequest(id=1, seq=1, data=s.payload(16, "ping6"))),
           UNICAST, "ICMPv6 echo blue-d -> blue-c")
    return s


def scenario_flood():
    s = Scenario("flood", "broadcast, multicast and unknown unicast reach only the same tenant's other ports")
    for p in ("vm-a", "vm-b", "vm-c", "vm-d", "vm-e"):
        s.port(p)
    s.port("up0", role="uplink")
    a = s.vm("red", "red-a", "vm-a", mac(1, 1), ["10.0.0.1"], ["fd00:1::1"])
    b = s.vm("red", "red-b", "vm-b", mac(2, 1), ["10.0.0.2"], ["fd00:1::2"])
    c = s.vm("red", "red-c", "vm-c", mac(3, 1), ["10.0.0.3"], ["fd00:1::3"])
    d = s.vm("blue", "blue-d", "vm-d", mac(4, 2), ["10.0.1.4"], ["fd00:2::4"])
    e = s.vm("blue", "blue-e", "vm-e", mac(5, 2), ["10.0.1.5"], ["fd00:2::5"])
    s.send("vm-a", dhcp_rebind(a, "10.0.0.1"), FLOOD, "DHCPREQUEST (rebinding) broadcast from red-a")
    s.send("vm-a", mdns_query(a, "10.0.0.1", "_http._tcp.local"), FLOOD, "mDNS query to 224.0.0.251 from red-a")
    s.send("vm-a", udp4(s, a, "02:00:00:00:99:99", "10.0.0.1", "10.0.0.99", 100, "unknown"), FLOOD, "unknown unicast from red-a")
    s.send("vm-a", udp4(s, a, d.mac, "10.0.0.1", "10.0.1.4", 100, "to-blue-mac"), FLOOD,
           "unicast to blue-d's MAC: unknown in red, so flooded in red only")
    s.send("vm-b", udp6(s, b, "33:33:00:00:00:01", "fd00:1::2", "ff02::1", 90, "all-nodes"), FLOOD, "IPv6 multicast ff02::1 from red-b")
    s.send("vm-b", pad60(Ether(src=b.mac, dst="33:33:ff:00:00:03") / IPv6(src=link_local(b.mac), dst="ff02::1:ff00:3", hlim=255)
                         / ICMPv6ND_NS(tgt="fd00:1::3")), FLOOD, "IPv6 neighbour solicitation from red-b's link-local")
    s.send("vm-c", udp4(s, c, "01:00:5e:7f:00:01", "10.0.0.3", "239.255.0.1", 300, "mcast"), FLOOD, "IPv4 multicast 239.255.0.1 from red-c")
    s.send("vm-c", udp4(s, c, BROADCAST, "10.0.0.3", "10.0.0.255", 60, "subnet-bcast"), FLOOD, "subnet broadcast from red-c")
    s.send("vm-d", udp4(s, d, BROADCAST, "10.0.1.4", "255.255.255.255", 60, "bcast"), FLOOD, "IPv4 broadcast from blue-d")
    s.send("vm-d", udp4(s, d, a.mac, "10.0.1.4", "10.0.0.1", 100, "to-red-mac"), FLOOD,
           "unicast to red-a's MAC: unknown in blue, so flooded in blue only")
    s.send("vm-e", udp4(s, e, "02:00:00:00:99:98", "10.0.1.5", "10.0.1.98", 100, "unknown"), FLOOD, "unknown unicast from blue-e")
    s.send("vm-e", mdns_query(e, "10.0.1.5", "_ipp._tcp.local"), FLOOD, "mDNS query to 224.0.0.251 from blue-e")
    # A known unicast in between, so the flood counters are not the only thing moving.
    s.send("vm-e", udp4(s, e, d.mac, "10.0.1.5", "10.0.1.4", 60, "known"), UNICAST, "known unicast blue-e -> blue-d")
    return s


def scenario_overlap():
    s = Scenario("overlap", "two tenants with the same MACs and IPs; traffic stays in its tenant")
    for p in ("vm-r1", "vm-r2", "vm-b1", "vm-b2", "vm-b3"):
        s.port(p)
    r1 = s.vm("red", "red-1", "vm-r1", mac(1), ["10.0.0.1"], ["fd00::1"])
    r2 = s.vm("red", "red-2", "vm-r2", mac(2), ["10.0.0.2"], ["fd00::2"])
    b1 = s.vm("blue", "blue-1", "vm-b1", mac(1), ["10.0.0.1"], ["fd00::1"])
    b2 = s.vm("blue", "blue-2", "vm-b2", mac(2), ["10.0.0.2"], ["fd00::2"])
    b3 = s.vm("blue", "blue-3", "vm-b3", mac(3), ["10.0.0.3"], ["fd00::3"])
    for vm1, vm2, port1, port2, t in ((r1, r2, "vm-r1", "vm-r2", "red"), (b1, b2, "vm-b1", "vm-b2", "blue")):
        for i in range(3):
            s.send(port1, udp4(s, vm1, vm2.mac, "10.0.0.1", "10.0.0.2", 80 + 40 * i, f"{t}-1>2-{i}"), UNICAST, f"{t}-1 -> {t}-2 (IPv4)")
        s.send(port1, udp6(s, vm1, vm2.mac, "fd00::1", "fd00::2", 100, f"{t}-1>2-v6"), UNICAST, f"{t}-1 -> {t}-2 (IPv6)")
        s.send(port1, udp4(s, vm1, BROADCAST, "10.0.0.1", "255.255.255.255", 60, f"{t}-bcast"), FLOOD, f"broadcast from {t}-1")
        for i in range(2):
            s.send(port2, udp4(s, vm2, vm1.mac, "10.0.0.2", "10.0.0.1", 70 + 10 * i, f"{t}-2>1-{i}"), UNICAST, f"{t}-2 -> {t}-1 (IPv4)")
    # 10.0.0.3 and 02:00:00:00:00:03 exist only in blue.
    s.send("vm-r1", arp(r1, 1, r1.mac, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.3"), FLOOD,
           "red-1 ARP who-has 10.0.0.3 (only blue has it): flooded in red, not answered")
    s.send("vm-r1", udp4(s, r1, b3.mac, "10.0.0.1", "10.0.0.3", 60, "red>03"), FLOOD, "red-1 -> 02:..:03 (only blue has it): flooded in red")
    s.send("vm-b1", arp(b1, 1, b1.mac, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.3"), ARP_REPLY, "blue-1 ARP who-has 10.0.0.3: answered with blue-3's MAC")
    s.send("vm-b2", udp4(s, b2, b3.mac, "10.0.0.2", "10.0.0.3", 60, "blue-2>3"), UNICAST, "blue-2 -> blue-3")
    s.send("vm-b3", udp4(s, b3, b2.mac, "10.0.0.3", "10.0.0.2", 60, "blue-3>2"), UNICAST, "blue-3 -> blue-2")
    return s


def scenario_spoof():
    s = Scenario("spoof", "anti-spoofing on VM ports: MAC, IPv4, ARP sender, IPv6 (with link-local), VLAN tags")
    for p in ("vm-a", "vm-b", "vm-c"):
        s.port(p)
    a = s.vm("red", "red-a", "vm-a", mac(1, 1), ["10.0.0.1", "10.0.0.11"], ["fd00:1::1"])
    b = s.vm("red", "red-b", "vm-b", mac(2, 1), ["10.0.0.2"], ["fd00:1::2"])
    c = s.vm("blue", "blue-c", "vm-c", mac(3, 2), ["10.0.1.3"], ["fd00:2::3"])
    ok, spoof_mac = a.mac, "02:00:00:00:66:66"
    s.send("vm-a", udp4(s, a, b.mac, "10.0.0.1", "10.0.0.2", 60, "ok"), UNICAST, "valid IPv4 red-a -> red-b")
    s.send("vm-a", udp4(s, a, b.mac, "10.0.0.11", "10.0.0.2", 60, "ok2"), UNICAST, "valid IPv4 from red-a's second address 10.0.0.11")
    s.send("vm-a", udp4(s, a, b.mac, "10.0.0.1", "10.0.0.2", 60, "smac-b", src_mac=b.mac), "spoofed_source_mac", "source MAC = red-b's")
    s.send("vm-a", udp4(s, a, b.mac, "10.0.0.1", "10.0.0.2", 60, "smac-x", src_mac=spoof_mac), "spoofed_source_mac", "source MAC unknown")
    s.send("vm-a", udp4(s, a, BROADCAST, "10.0.0.1", "255.255.255.255", 60, "smac-c", src_mac=c.mac), "spoofed_source_mac",
           "broadcast with blue-c's source MAC")
    s.send("vm-a", raw_frame(b.mac, spoof_mac, 0x88B5, s.payload(46, "smac-et")), "spoofed_source_mac", "EtherType 0x88B5 with a forged source MAC")
    s.send("vm-a", udp4(s, a, b.mac, "10.0.0.2", "10.0.0.2", 60, "ip-b"), "spoofed_ipv4_source", "IPv4 source = red-b's 10.0.0.2")
    s.send("vm-a", udp4(s, a, b.mac, "10.0.1.3", "10.0.0.2", 60, "ip-c"), "spoofed_ipv4_source", "IPv4 source = blue-c's 10.0.1.3")
    s.send("vm-a", dhcp_rebind(a, "0.0.0.0", "discover"), "spoofed_ipv4_source", "DHCPDISCOVER from 0.0.0.0: the IPv4 source must be bound")
    s.send("vm-a", arp(a, 1, spoof_mac, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.2"), "spoofed_arp_sender", "ARP sender MAC forged (Ethernet source is right)")
    s.send("vm-a", arp(a, 1, a.mac, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.9"), "spoofed_arp_sender", "ARP sender IP = red-b's 10.0.0.2")
    s.send("vm-a", arp(a, 2, a.mac, "10.0.0.7", b.mac, "10.0.0.2", dst=b.mac), "spoofed_arp_sender", "ARP reply with an unbound sender IP")
    s.send("vm-a", arp(a, 2, a.mac, "10.0.0.1", b.mac, "10.0.0.2", dst=b.mac), UNICAST, "valid ARP reply red-a -> red-b (switched)")
    s.send("vm-a", udp6(s, a, b.mac, "fd00:1::1", "fd00:1::2", 100, "v6ok"), UNICAST, "valid IPv6 red-a -> red-b")
    s.send("vm-a", udp6(s, a, b.mac, "fd00:1::2", "fd00:1::1", 100, "v6-b"), "spoofed_ipv6_source", "IPv6 source = red-b's fd00:1::2")
    s.send("vm-a", udp6(s, a, b.mac, "fd00:2::3", "fd00:1::2", 100, "v6-c"), "spoofed_ipv6_source", "IPv6 source = blue-c's fd00:2::3")
    s.send("vm-a", pad60(Ether(src=a.mac, dst="33:33:ff:00:00:02") / IPv6(src=a.link_local, dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt="fd00:1::2")),
           FLOOD, f"neighbour solicitation from red-a's own link-local {a.link_local} (modified EUI-64)")
    s.send("vm-a", udp6(s, a, b.mac, a.link_local, link_local(b.mac), 80, "ll-ok"), UNICAST, f"IPv6 unicast from {a.link_local}")
    s.send("vm-a", pad60(Ether(src=a.mac, dst="33:33:ff:00:01:01") / IPv6(src="::", dst="ff02::1:ff00:101", hlim=255) / ICMPv6ND_NS(tgt=a.link_local)),
           "spoofed_ipv6_source", "duplicate address detection (RFC 4862) from ::, which is neither bound nor the link-local")
    s.send("vm-a", udp6(s, a, b.mac, "fe80::1", "fe80::2", 80, "ll-x"), "spoofed_ipv6_source", "IPv6 source fe80::1: link-local, but not red-a's")
    s.send("vm-a", udp6(s, a, b.mac, link_local(b.mac), "fe80::2", 80, "ll-b"), "spoofed_ipv6_source", "IPv6 source = red-b's link-local")
    # red-a's link-local with the U/L bit left as it is (plain EUI-64, the classic mistake).
    wrong_ul = str(ipaddress.IPv6Address(ipaddress.IPv6Address(a.link_local).packed[:8] + bytes([0x02]) + ipaddress.IPv6Address(a.link_local).packed[9:]))
    s.send("vm-a", udp6(s, a, b.mac, wrong_ul, "fe80::2", 80, "ll-ul"), "spoofed_ipv6_source",
           f"IPv6 source {wrong_ul}: red-a's EUI-64 without the U/L bit flipped")
    s.send("vm-a", pad60(Ether(src=a.mac, dst=b.mac) / Dot1Q(vlan=10) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=9)),
           "vlan_tagged", "802.1Q tag (VLAN 10), otherwise valid")
    s.send("vm-a", pad60(Ether(src=a.mac, dst=b.mac) / Dot1AD(vlan=20) / Dot1Q(vlan=10) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=9)),
           "vlan_tagged", "802.1ad S-tag over an 802.1Q tag (QinQ)")
    s.send("vm-a", pad60(Ether(src=a.mac, dst=BROADCAST, type=0x9100) / Dot1Q(vlan=30) / IP(src="10.0.0.1", dst="255.255.255.255") / UDP(sport=1, dport=9)),
           "vlan_tagged", "pre-standard 0x9100 QinQ tag, broadcast")
    s.send("vm-a", pad60(Ether(src=a.mac, dst=b.mac) / Dot1Q(vlan=10) / IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=1, dport=9)),
           "vlan_tagged", "802.1Q tag over a spoofed IPv4 source: the tag check comes first")
    s.send("vm-a", pad60(Ether(src=spoof_mac, dst=b.mac) / Dot1Q(vlan=10) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=9)),
           "spoofed_source_mac", "802.1Q tag and a forged source MAC: the MAC check comes first")
    s.send("vm-b", udp4(s, b, a.mac, "10.0.0.2", "10.0.0.1", 60, "b-ok"), UNICAST, "valid IPv4 red-b -> red-a")
    s.send("vm-b", udp4(s, b, a.mac, "10.0.0.2", "10.0.0.1", 60, "b-smac", src_mac=a.mac), "spoofed_source_mac", "red-b sends as red-a's MAC")
    s.send("vm-b", arp(b, 1, b.mac, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.1"), "spoofed_arp_sender",
           "gratuitous ARP claiming red-a's 10.0.0.1 (ARP poisoning)")
    s.send("vm-c", udp4(s, c, "02:00:00:00:99:99", "10.0.0.1", "10.0.1.99", 60, "c-ip"), "spoofed_ipv4_source", "blue-c sends from red-a's 10.0.0.1")
    s.send("vm-c", udp4(s, c, "02:00:00:00:99:99", "10.0.1.3", "10.0.1.99", 60, "c-ok"), "no_flood_target",
           "blue-c's valid unknown unicast: blue has no other port")
    return s


def scenario_arp_responder():
    s = Scenario("arp-responder", "ARP requests for a tenant's own IPs are answered by the switch; others are flooded in-tenant")
    for p in ("vm-a", "vm-b", "vm-c", "vm-d", "vm-e", "vm-f"):
        s.port(p)
    a = s.vm("red", "red-a", "vm-a", mac(1, 1), ["10.0.0.1"], ["fd00:1::1"])
    b = s.vm("red", "red-b", "vm-b", mac(2, 1), ["10.0.0.2", "10.0.0.22"], ["fd00:1::2"])
    c = s.vm("red", "red-c", "vm-c", mac(3, 1), ["10.0.0.3"], ["fd00:1::3"])
    d = s.vm("blue", "blue-d", "vm-d", mac(4, 2), ["10.0.1.4"], ["fd00:2::4"])
    e = s.vm("blue", "blue-e", "vm-e", mac(5, 2), ["10.0.1.5"], ["fd00:2::5"])
    f = s.vm("blue", "blue-f", "vm-f", mac(6, 2), ["10.0.1.6"], ["fd00:2::6"])
    zero = "00:00:00:00:00:00"
    s.send("vm-a", arp(a, 1, a.mac, "10.0.0.1", zero, "10.0.0.2"), ARP_REPLY, "who-has 10.0.0.2 (red-b), broadcast, padded to 60 B")
    s.send("vm-a", arp(a, 1, a.mac, "10.0.0.1", zero, "10.0.0.3", padded=False), ARP_REPLY, "who-has 10.0.0.3 (red-c), 42 B without padding")
    s.send("vm-a", arp(a, 1, a.mac, "10.0.0.1", zero, "10.0.0.22"), ARP_REPLY, "who-has 10.0.0.22 (red-b's second address)")
    s.send("vm-a", arp(a, 1, a.mac, "10.0.0.1", b.mac, "10.0.0.2", dst=b.mac), ARP_REPLY, "unicast who-has 10.0.0.2 to red-b's MAC (refresh)")
    s.send("vm-a", arp(a, 1, a.mac, "10.0.0.1", zero, "10.0.1.4"), FLOOD, "who-has 10.0.1.4 (blue-d's, another tenant): flooded in red")
    s.send("vm-a", arp(a, 1, a.mac, "10.0.0.1", zero, "10.0.0.99", padded=False), FLOOD, "who-has 10.0.0.99 (nobody), 42 B: flooded in red")
    s.send("vm-a", arp(a, 1, a.mac, "10.0.0.1", zero, "10.0.0.1"), FLOOD, "gratuitous ARP request (sender = target = 10.0.0.1)")
    s.send("vm-a", arp(a, 2, a.mac, "10.0.0.1", BROADCAST, "10.0.0.1"), FLOOD, "gratuitous ARP reply, broadcast")
    s.send("vm-a", arp(a, 1, a.mac, "0.0.0.0", zero, "10.0.0.1"), "spoofed_arp_sender",
           "ARP probe (RFC 5227, sender IP 0.0.0.0): the sender IP must be bound")
    s.send("vm-b", arp(b, 1, b.mac, "10.0.0.2", zero, "10.0.0.3"), ARP_REPLY, "red-b who-has 10.0.0.3 (red-c)")
    s.send("vm-b", arp(b, 1, b.mac, "10.0.0.22", zero, "10.0.0.3", padded=False), ARP_REPLY,
           "red-b who-has 10.0.0.3 from its second address, 42 B")
    s.send("vm-d", arp(d, 1, d.mac, "10.0.1.4", zero, "10.0.1.5"), ARP_REPLY, "blue-d who-has 10.0.1.5 (blue-e)")
    s.send("vm-d", arp(d, 1, d.mac, "10.0.1.4", zero, "10.0.0.2"), FLOOD, "blue-d who-has 10.0.0.2 (red-b's): flooded in blue")
    s.send("vm-d", arp(d, 1, d.mac, "10.0.1.4", zero, "10.0.0.1", padded=False), FLOOD, "blue-d who-has 10.0.0.1 (red-a's), 42 B: flooded in blue")
    s.send("vm-f", arp(f, 1, f.mac, "10.0.1.6", zero, "10.0.1.6"), FLOOD, "gratuitous ARP from blue-f")
    s.send("vm-f", arp(f, 1, f.mac, "10.0.1.6", zero, "10.0.1.5", padded=False), ARP_REPLY, "blue-f who-has 10.0.1.5 (blue-e), 42 B")
    # red-c and blue-e only own addresses here: they send nothing, so the switch's replies are the
    # only frames with their MACs (the harness checks order per source MAC).
    assert c and e
    return s


def scenario_malformed():
    s = Scenario("malformed", "runts and IPv4/ARP/IPv6 headers shorter than they claim or than their minimum")
    for p in ("vm-a", "vm-b"):
        s.port(p)
    a = s.vm("red", "red-a", "vm-a", mac(1, 1), ["10.0.0.1"], ["fd00:1::1"])
    b = s.vm("red", "red-b", "vm-b", mac(2, 1), ["10.0.0.2"], ["fd00:1::2"])
    eth4 = mac_bytes(b.mac) + mac_bytes(a.mac) + b"\x08\x00"
    eth_arp = mac_bytes(BROADCAST) + mac_bytes(a.mac) + b"\x08\x06"
    eth6 = mac_bytes(b.mac) + mac_bytes(a.mac) + b"\x86\xdd"

    def ip4(**fields):
        header = {"src": "10.0.0.1", "dst": "10.0.0.2", "id": 1, **fields}
        return bytes(IP(**header) / UDP(sport=40000, dport=9) / Raw(b"x" * 8))

    def patched(packet, offset, value):
        return packet[:offset] + bytes(value) + packet[offset + len(value):]

    good4 = ip4()  # 36 bytes: 20 IP + 8 UDP + 8 payload
    s.send("vm-a", (eth4 + good4)[:13], "runt_frame", "13 B: one byte short of an Ethernet header")
    s.send("vm-a", mac_bytes(b.mac), "runt_frame", "6 B: a destination MAC only")
    s.send("vm-a", eth4 + good4[:19], "malformed_ipv4", "IPv4 header cut at 19 B, frame not padded (33 B)")
    s.send("vm-a", eth4 + patched(good4, 0, b"\x44"), "malformed_ipv4", "IHL 4 (16 B, below the minimum 5)")
    s.send("vm-a", pad60(eth4 + patched(good4, 0, b"\x4f")), "malformed_ipv4", "IHL 15 (60 B) in a 46 B payload")
    s.send("vm-a", eth4 + patched(good4, 2, struct.pack("!H", 1000)), "malformed_ipv4", "total length 1000 in a 50 B frame")
    s.send("vm-a", pad60(eth4 + patched(good4, 2, struct.pack("!H", 19))), "malformed_ipv4", "total length 19 < IHL 20")
    s.send("vm-a", eth4 + patched(good4, 0, b"\x65"), "malformed_ipv4", "version 6 under EtherType IPv4")
    s.send("vm-a", eth4 + patched(ip4(src="10.0.0.2"), 2, struct.pack("!H", 1000)), "malformed_ipv4",
           "total length beyond the frame and a spoofed source: malformed is checked first")
    good_arp = bytes(ARP(op=1, hwsrc=a.mac, psrc="10.0.0.1", hwdst="00:00:00:00:00:00", pdst="10.0.0.2"))
    s.send("vm-a", eth_arp + good_arp[:7], "malformed_arp", "ARP of 7 B (fixed part is 8)")
    s.send("vm-a", eth_arp + good_arp[:20], "malformed_arp", "ARP cut at 20 B: hlen 6/plen 4 claim 28")
    s.send("vm-a", pad60(eth_arp + patched(good_arp, 4, b"\x10\x10")), "malformed_arp", "hlen 16/plen 16 claim 72 B in a 46 B payload")
    s.send("vm-a", pad60(eth_arp + patched(good_arp, 0, b"\x00\x06")), "malformed_arp", "hardware type 6 (IEEE 802), not Ethernet")
    good6 = bytes(IPv6(src="fd00:1::1", dst="fd00:1::2") / UDP(sport=40000, dport=9) / Raw(b"y" * 8))
    s.send("vm-a", eth6 + good6[:39], "malformed_ipv6", "IPv6 fixed header cut at 39 B")
    s.send("vm-a", pad60(eth6 + patched(good6, 4, struct.pack("!H", 100))), "malformed_ipv6", "payload length 100 with 16 B present")
    s.send("vm-a", eth6 + patched(good6, 0, b"\x40"), "malformed_ipv6", "version 4 under EtherType IPv6")
    # Short but valid frames are switched.
    s.send("vm-a", pad60(eth4 + good4), UNICAST, "valid IPv4 (36 B), padded to 60: total length < frame is fine")
    s.send("vm-a", eth4 + good4, UNICAST, "valid IPv4 without padding (50 B)")
    s.send("vm-a", pad60(eth4 + bytes(IP(src="10.0.0.1", dst="10.0.0.2", id=2, options=b"\x01\x01\x01\x00") / UDP(sport=40000, dport=9))),
           UNICAST, "valid IPv4 with options (IHL 6)")
    s.send("vm-a", eth_arp + good_arp, ARP_REPLY, "valid 42 B ARP request for red-b: answered")
    s.send("vm-a", eth6 + good6, UNICAST, "valid IPv6 without padding (70 B)")
    s.send("vm-b", b"\x00" * 10, "runt_frame", "10 zero bytes")
    s.send("vm-b", mac_bytes(a.mac) + mac_bytes(b.mac) + b"\x08\x00" + ip4(src="10.0.0.2", dst="10.0.0.1")[:20], "malformed_ipv4",
           "complete 20 B IPv4 header claiming total length 36, frame ends after the header (34 B)")
    return s


def scenario_oversize():
    s = Scenario("oversize", "ingress MTU (1500: 1514 B passes, 1515 B dropped) and egress MTU (a 1400 port)")
    s.port("vm-a", mtu=1500)
    s.port("vm-b", mtu=1500)
    s.port("vm-s", mtu=1400)
    a = s.vm("red", "red-a", "vm-a", mac(1, 1), ["10.0.0.1"], ["fd00:1::1"])
    b = s.vm("red", "red-b", "vm-b", mac(2, 1), ["10.0.0.2"], ["fd00:1::2"])
    sm = s.vm("red", "red-s", "vm-s", mac(3, 1), ["10.0.0.3"], ["fd00:1::3"])
    s.send("vm-a", udp4(s, a, b.mac, "10.0.0.1", "10.0.0.2", 1514, "max"), UNICAST, "1514 B (MTU 1500 + 14) to red-b")
    s.send("vm-a", udp4(s, a, b.mac, "10.0.0.1", "10.0.0.2", 1515, "max+1"), "oversize", "1515 B: one byte over the ingress MTU")
    s.send("vm-a", udp6(s, a, b.mac, "fd00:1::1", "fd00:1::2", 1514, "max6"), UNICAST, "1514 B IPv6 to red-b")
    s.send("vm-a", udp4(s, a, b.mac, "10.0.0.1", "10.0.0.2", 2000, "2000"), "oversize", "2000 B")
    s.send("vm-a", udp4(s, a, b.mac, "10.0.0.1", "10.0.0.2", 1515, "spoof", src_mac="02:00:00:00:66:66"), "oversize",
           "1515 B with a forged source MAC: the MTU is checked first")
    s.send("vm-a", udp4(s, a, sm.mac, "10.0.0.1", "10.0.0.3", 1414, "s-max"), UNICAST, "1414 B to red-s (MTU 1400): fits")
    s.send("vm-a", udp4(s, a, sm.mac, "10.0.0.1", "10.0.0.3", 1415, "s-max+1"), "egress_mtu_exceeded", "1415 B to red-s: fits ingress, not egress")
    s.send("vm-a", udp4(s, a, sm.mac, "10.0.0.1", "10.0.0.3", 1514, "s-1514"), "egress_mtu_exceeded", "1514 B to red-s")
    s.send("vm-a", udp4(s, a, BROADCAST, "10.0.0.1", "255.255.255.255", 1400, "bcast"), FLOOD, "1400 B broadcast: fits every port")
    s.send("vm-s", udp4(s, sm, a.mac, "10.0.0.3", "10.0.0.1", 1414, "from-s"), UNICAST, "1414 B from red-s to red-a")
    s.send("vm-s", udp4(s, sm, a.mac, "10.0.0.3", "10.0.0.1", 1415, "from-s+1"), "oversize", "1415 B from red-s: over its 1400 MTU")
    s.send("vm-b", udp4(s, b, a.mac, "10.0.0.2", "10.0.0.1", 1500, "b"), UNICAST, "1500 B red-b -> red-a")
    return s


def scenario_misc():
    s = Scenario("misc", "hairpin, other EtherTypes, the uplink without an overlay, an unbound port, a tenant with one port")
    for p in ("vm-a", "vm-b", "vm-u", "vm-l"):
        s.port(p)
    s.port("up0", role="uplink")
    a = s.vm("red", "red-a", "vm-a", mac(1, 1), ["10.0.0.1"], ["fd00:1::1"])
    b = s.vm("red", "red-b", "vm-b", mac(2, 1), ["10.0.0.2"], ["fd00:1::2"])
    lone = s.vm("blue", "blue-lone", "vm-l", mac(9, 2), ["10.0.1.9"], ["fd00:2::9"])
    s.send("vm-a", udp4(s, a, a.mac, "10.0.0.1", "10.0.0.1", 60, "hairpin"), "hairpin", "red-a to its own MAC")
    s.send("vm-a", raw_frame(a.mac, a.mac, 0x88B5, s.payload(46, "hairpin-et")), "hairpin", "EtherType 0x88B5 to red-a's own MAC")
    s.send("vm-a", raw_frame(b.mac, a.mac, 0x88B5, s.payload(46, "exp1")), UNICAST, "EtherType 0x88B5 (local experimental) red-a -> red-b")
    s.send("vm-a", raw_frame(b.mac, a.mac, 0x88B5, s.payload(200, "exp1-long")), UNICAST, "EtherType 0x88B5, 214 B")
    s.send("vm-a", raw_frame(BROADCAST, a.mac, 0x88B6, s.payload(46, "exp2")), FLOOD, "EtherType 0x88B6 broadcast")
    s.send("vm-a", raw_frame(b.mac, "02:00:00:00:66:66", 0x88B5, s.payload(46, "exp1-spoof")), "spoofed_source_mac", "EtherType 0x88B5, forged source MAC")
    s.send("vm-a", raw_frame(b.mac, a.mac, 0x88B5, b"")[:14], UNICAST, "EtherType 0x88B5, header only (14 B)")
    s.send("vm-b", udp4(s, b, a.mac, "10.0.0.2", "10.0.0.1", 60, "b>a"), UNICAST, "red-b -> red-a")
    s.send("vm-b", raw_frame(a.mac, b.mac, 0x88B5, s.payload(60, "exp1-b")), UNICAST, "EtherType 0x88B5 red-b -> red-a")
    s.send("up0", udp4(s, a, b.mac, "10.0.0.1", "10.0.0.2", 60, "up-plain"), "uplink_no_overlay", "plain IPv4 to red-b's MAC on the uplink")
    s.send("up0", udp4(s, a, BROADCAST, "10.0.0.1", "255.255.255.255", 60, "up-bcast", src_mac="02:00:00:00:aa:01"), "uplink_no_overlay", "broadcast on the uplink")
    s.send("up0", pad60(Ether(src="02:00:00:00:aa:01", dst="02:00:00:00:aa:02") / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=49152, dport=4789)
                        / Raw(b"\x08\x00\x00\x00\x00\x00\x64\x00") / Ether(src=a.mac, dst=b.mac) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=9)),
           "uplink_no_overlay", "VXLAN (VNI 100) on the uplink, no overlay configured")
    s.send("vm-u", udp4(s, a, b.mac, "10.0.0.1", "10.0.0.2", 60, "unbound", src_mac="02:00:00:00:bb:01"), "unbound_port", "frame on a port with no VM")
    s.send("vm-u", udp4(s, a, BROADCAST, "10.0.0.1", "255.255.255.255", 60, "unbound-bc", src_mac="02:00:00:00:bb:01"), "unbound_port", "broadcast on the unbound port")
    s.send("vm-l", udp4(s, lone, BROADCAST, "10.0.1.9", "255.255.255.255", 60, "lone-bc"), "no_flood_target", "broadcast in a tenant with one port")
    s.send("vm-l", udp4(s, lone, a.mac, "10.0.1.9", "10.0.0.1", 60, "lone-uu"), "no_flood_target", "red-a's MAC from blue: unknown, nowhere to flood")
    s.send("vm-l", udp4(s, lone, lone.mac, "10.0.1.9", "10.0.1.9", 60, "lone-hp"), "hairpin", "blue-lone to its own MAC")
    return s


def scenario_first_hop():
    s = Scenario("first-hop", "a VM speaks only for itself: no foreign neighbor advertisements, no router advertisements or redirects "
                 "without allow_routing, no DHCP server replies; floods beyond a VM's flood_burst dropped")
    for p in ("vm-a", "vm-r", "vm-c"):
        s.port(p)
    a = s.vm("red", "red-a", "vm-a", mac(1, 1), ["10.0.0.1"], ["fd00:1::1"])
    r = s.vm("red", "red-r", "vm-r", mac(2, 1), ["10.0.0.254"], ["fd00:1::fe"], allow_routing=True)
    c = s.vm("red", "red-c", "vm-c", mac(3, 1), ["10.0.0.3"], ["fd00:1::3"], flood_burst=3)
    all_nodes, all_nodes_mac = "ff02::1", "33:33:00:00:00:01"

    def na(vm, target, tlla, src=None, dst=all_nodes, dst_mac=all_nodes_mac):
        packet = Ether(src=vm.mac, dst=dst_mac) / IPv6(src=src or vm.link_local, dst=dst, hlim=255) / ICMPv6ND_NA(tgt=target, R=0, S=0, O=1)
        return bytes(packet / ICMPv6NDOptDstLLAddr(lladdr=tlla)) if tlla else bytes(packet)

    def ra(vm, *extensions):
        head = IPv6(src=vm.link_local, dst=all_nodes, hlim=255)
        for extension in extensions:
            head = head / extension
        return bytes(Ether(src=vm.mac, dst=all_nodes_mac) / head / ICMPv6ND_RA(routerlifetime=1800)
                     / ICMPv6NDOptSrcLLAddr(lladdr=vm.mac) / ICMPv6NDOptPrefixInfo(prefix="fd00:1::", prefixlen=64))

    def redirect(vm, to):
        return bytes(Ether(src=vm.mac, dst=to.mac) / IPv6(src=vm.link_local, dst=to.link_local, hlim=255)
                     / ICMPv6ND_Redirect(tgt=r.link_local, dst="fd00:99::1"))

    s.send("vm-a", na(a, a.link_local, a.mac), FLOOD, "unsolicited NA for red-a's own link-local address, its own MAC in the option")
    s.send("vm-a", na(a, "fd00:1::1", None, src="fd00:1::1", dst=c.link_local, dst_mac=c.mac), UNICAST, "solicited NA for its own address, without the option (RFC 4861 4.4)")
    s.send("vm-a", na(a, "fd00:1::fe", a.mac), "spoofed_neighbor_advertisement", "NA claiming the router red-r's address")
    s.send("vm-a", na(a, "fd00:1::3", a.mac, src="fd00:1::1", dst=c.link_local, dst_mac=c.mac), "spoofed_neighbor_advertisement",
           "NA to red-c claiming red-c's own address")
    s.send("vm-a", na(a, "fd00:1::1", r.mac), "spoofed_neighbor_advertisement", "NA for its own address naming red-r's MAC")
    whole = Ether(src=a.mac, dst=all_nodes_mac) / IPv6(src=a.link_local, dst=all_nodes, hlim=255) / ICMPv6ND_NA(tgt="fd00:1::1")
    cut = bytearray(bytes(whole)[:14 + 40 + 20])
    cut[14 + 4:14 + 6] = struct.pack("!H", 20)
    s.send("vm-a", bytes(cut), "malformed_icmpv6", "NA cut at 20 B (the IPv6 payload length says 20)")
    s.send("vm-a", ra(a), "rogue_router_advertisement", "RA from red-a, not allowed to route")
    s.send("vm-a", ra(a, IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt()), "rogue_router_advertisement", "the same RA behind Hop-by-Hop and Destination Options headers")
    s.send("vm-a", ra(a, IPv6ExtHdrFragment(m=1, offset=0, id=7)), "rogue_router_advertisement", "the same RA in a first fragment")
    s.send("vm-a", redirect(a, c), "rogue_redirect", "Redirect from red-a to red-c")
    s.send("vm-r", ra(r), FLOOD, "RA from red-r, allow_routing: true")
    s.send("vm-r", redirect(r, a), UNICAST, "Redirect from red-r to red-a")
    s.send("vm-r", na(r, "fd00:1::1", r.mac), "spoofed_neighbor_advertisement", "allow_routing is no licence to claim red-a's address")
    s.send("vm-a", pad60(Ether(src=a.mac, dst=BROADCAST) / IP(src="10.0.0.1", dst="255.255.255.255", id=0x4545) / UDP(sport=67, dport=68)
                         / BOOTP(op=2, yiaddr="10.0.0.3", chaddr=mac_bytes(c.mac) + b"\x00" * 10, xid=0x1020304) / DHCP(options=[("message-type", "offer"), "end"])),
           "rogue_dhcp_server", "DHCPOFFER from red-a (UDP 67 -> 68)")
    s.send("vm-a", bytes(Ether(src=a.mac, dst="33:33:00:01:00:02") / IPv6(src=a.link_local, dst="ff02::1:2") / UDP(sport=547, dport=546)
                         / DHCP6_Advertise(trid=7) / DHCP6OptClientId() / DHCP6OptServerId()),
           "rogue_dhcp_server", "DHCPv6 Advertise from red-a (UDP 547 -> 546)")
    cut = bytearray(pad60(Ether(src=a.mac, dst=c.mac) / IP(src="10.0.0.1", dst="10.0.0.3", id=0x4646) / UDP(sport=40000, dport=9)))
    cut[14 + 2:14 + 4] = struct.pack("!H", 20 + 4)
    s.send("vm-a", bytes(cut), "malformed_udp", "IPv4 total length leaving 4 B of UDP header")
    s.send("vm-a", bytes(Ether(src=a.mac, dst=c.mac) / IPv6(src="fd00:1::1", dst="fd00:1::3", nh=60, plen=8) / Raw(bytes([58, 2, 1, 4, 0, 0, 0, 0]))),
           "malformed_ipv6", "Destination Options header claiming 24 B with 8 B left")
    s.send("vm-a", udp6(s, a, c.mac, "fd00:1::1", "fd00:1::3", 100, "a>c6"), UNICAST, "plain IPv6 UDP passes")
    for n in range(3):
        s.send("vm-c", udp4(s, c, BROADCAST, "10.0.0.3", "10.0.0.255", 80, f"c-bcast{n}"), FLOOD, f"broadcast {n + 1} of red-c's burst of 3")
    s.send("vm-c", udp4(s, c, BROADCAST, "10.0.0.3", "10.0.0.255", 80, "c-bcast3"), "flood_rate_exceeded", "a fourth broadcast: red-c's bucket is empty (1 pps)")
    s.send("vm-c", udp4(s, c, "02:00:00:00:01:99", "10.0.0.3", "10.0.0.99", 80, "c-uu"), "flood_rate_exceeded", "unknown unicast takes a token too")
    for n in range(3):
        s.send("vm-c", udp4(s, c, a.mac, "10.0.0.3", "10.0.0.1", 80, f"c>a{n}"), UNICAST, "known unicast is never limited")
    return s


# --- the overlay -----------------------------------------------------------------------------
OUR_MAC, HOST_B_MAC, HOST_C_MAC = "02:aa:00:00:00:01", "02:bb:00:00:00:02", "02:bb:00:00:00:03"
VTEP, HOST_B, HOST_C = "192.168.50.1", "192.168.50.2", "192.168.50.3"
AGREED_OPTION = (0x0102, 0x80, bytes.fromhex("0011223344556677"))
# host-e (overlay-encap only): the longest option there is, 124 bytes of data (RFC 8926 section
# 3.5: a 5-bit length in 4-byte words). Its 178 bytes of outer headers are more than the 128-byte
# headroom DPDK leaves in front of a received frame.
HOST_E, HOST_E_MAC = "192.168.50.5", "02:bb:00:00:00:05"
LONG_OPTION = (0x0103, 0x01, bytes(range(124)))


def overlay_topology(s, extra_ports=()):
    """red: a, b local (MTU 1450), c on host-b (VXLAN), d on host-c (GENEVE with one critical 8-byte
    option); blue: a local, c on host-b. Next hops resolved by static neighbours."""
    for p in ("vm-a", "vm-b", "vm-blue"):
        s.port(p, mtu=1450)
    for p, mtu in extra_ports:
        s.port(p, mtu=mtu)
    s.port("up0", role="uplink", mtu=1500)
    vms = {
        "a": s.vm("red", "red-a", "vm-a", mac(1, 1), ["10.0.0.1"], ["fd00:1::1"]),
        "b": s.vm("red", "red-b", "vm-b", mac(2, 1), ["10.0.0.2"], ["fd00:1::2"]),
        "blue": s.vm("blue", "blue-a", "vm-blue", mac(1, 2), ["10.0.0.1"], ["fd00:2::1"]),
    }
    o = s.set_overlay("up0", VTEP, 24, OUR_MAC, ttl=64, gateway="192.168.50.254")
    o.static_neighbours = {HOST_B: HOST_B_MAC, HOST_C: HOST_C_MAC}
    s.vnis = {"red": 5001, "blue": 5002}
    s.remote_host("host-b", HOST_B, "vxlan")
    s.remote_host("host-c", HOST_C, "geneve", [AGREED_OPTION])
    vms["c"] = s.remote_vm("red", "red-c", "host-b", mac(3, 1), ["10.0.0.3"])
    vms["d"] = s.remote_vm("red", "red-d", "host-c", mac(4, 1), ["10.0.0.4"])
    vms["blue-c"] = s.remote_vm("blue", "blue-c", "host-b", mac(3, 2), ["10.0.0.3"])
    return vms


def tunnelled(src_vtep, dport, header, inner, dst_vtep=VTEP, src_mac=HOST_B_MAC, dst_mac=OUR_MAC, udp_checksum=None, **ip_fields):
    """A frame from the underlay: Ethernet/IPv4/UDP to dport around a tunnel header and an inner frame.
    scapy fills in the outer IPv4 checksum unless ip_fields gives chksum."""
    ip = dict(src=src_vtep, dst=dst_vtep, id=7, ttl=64, flags="DF")
    ip.update(ip_fields)
    udp = UDP(sport=51000, dport=dport) if udp_checksum is None else UDP(sport=51000, dport=dport, chksum=udp_checksum)
    return bytes(Ether(src=src_mac, dst=dst_mac) / IP(**ip) / udp / Raw(header + bytes(inner)))


def vxlan_from_b(inner, vni=5001, **kw):
    return tunnelled(HOST_B, VXLAN_PORT, vxlan_header(vni), inner, **kw)


def geneve_from_c(inner, options=None, vni=5001, **kw):
    opts = geneve_option(*AGREED_OPTION) if options is None else options
    return tunnelled(HOST_C, GENEVE_PORT, geneve_header(vni, opts), inner, src_mac=HOST_C_MAC, **kw)


def scenario_overlay_encap():
    s = Scenario("overlay-encap", "unicast to remote VMs: VXLAN to host-b, GENEVE with an option to host-c, per tenant VNI; MTU; ARP for remote VMs")
    v = overlay_topology(s, extra_ports=[("vm-j", 1500)])
    a, b, blue, c, d = v["a"], v["b"], v["blue"], v["c"], v["d"]
    j = s.vm("red", "red-j", "vm-j", mac(10, 1), ["10.0.0.10"], ["fd00:1::10"])
    for size in (60, 200, 1000, 1464):
        s.send("vm-a", udp4(s, a, c.mac, "10.0.0.1", "10.0.0.3", size, f"a>c{size}"), ENCAP, f"red-a -> red-c, {size} B: VXLAN VNI 5001 to host-b")
    for sport in range(41000, 41006):
        s.send("vm-a", udp4(s, a, c.mac, "10.0.0.1", "10.0.0.3", 100, f"flow{sport}", sport=sport), ENCAP, f"red-a -> red-c, UDP from port {sport}: its own outer source port")
    s.send("vm-a", pad60(Ether(src=a.mac, dst=c.mac) / IP(src="10.0.0.1", dst="10.0.0.3", id=5, ttl=64) / TCP(sport=40001, dport=80, flags="S", seq=1)), ENCAP, "TCP SYN red-a -> red-c")
    s.send("vm-a", pad60(Ether(src=a.mac, dst=c.mac) / IPv6(src="fd00:1::1", dst="fd00:1::3") / UDP(sport=1, dport=9) / Raw(b"v6")), ENCAP, "IPv6 red-a -> red-c")
    for size in (60, 1000, 1452):
        s.send("vm-a", udp4(s, a, d.mac, "10.0.0.1", "10.0.0.4", size, f"a>d{size}"), ENCAP, f"red-a -> red-d, {size} B: GENEVE with the 8-byte option to host-c")
    s.send("vm-a", udp4(s, a, d.mac, "10.0.0.1", "10.0.0.4", 1453, "a>d-big"), "encap_exceeds_mtu", "1453 B to red-d: + 62 B of outer headers (GENEVE with a 12 B option) is 1515 B, over the uplink's 1514")
    s.send("vm-a", udp4(s, a, d.mac, "10.0.0.1", "10.0.0.4", 1464, "a>d-max"), "encap_exceeds_mtu", "1464 B (the VM MTU) to red-d: fits VXLAN, not GENEVE with an option")
    s.send("vm-j", udp4(s, j, c.mac, "10.0.0.10", "10.0.0.3", 1464, "j>c"), ENCAP, "1464 B from the 1500-MTU port to red-c: exactly 1514 B outer")
    s.send("vm-j", udp4(s, j, c.mac, "10.0.0.10", "10.0.0.3", 1465, "j>c-big"), "encap_exceeds_mtu", "1465 B to red-c: 1515 B outer")
    s.send("vm-j", udp4(s, j, c.mac, "10.0.0.10", "10.0.0.3", 1514, "j>c-1514"), "encap_exceeds_mtu", "1514 B to red-c")
    s.send("vm-blue", udp4(s, blue, v["blue-c"].mac, "10.0.0.1", "10.0.0.3", 300, "blue>c"), ENCAP, "blue-a -> blue-c: VNI 5002 to host-b")
    s.send("vm-blue", udp4(s, blue, c.mac, "10.0.0.1", "10.0.0.3", 100, "blue>red-c"), "no_flood_target",
           "blue-a to red-c's MAC: unknown in blue; unknown unicast is never replicated, and blue has no other local port")
    s.send("vm-a", udp4(s, a, b.mac, "10.0.0.1", "10.0.0.2", 100, "a>b"), UNICAST, "red-a -> red-b stays local")
    s.send("vm-a", arp(a, 1, a.mac, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.3"), ARP_REPLY, "ARP for red-c (remote): answered with red-c's MAC")
    s.send("vm-a", arp(a, 1, a.mac, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.4"), ARP_REPLY, "ARP for red-d (remote)")
    s.send("vm-b", udp4(s, b, c.mac, "10.0.0.2", "10.0.0.3", 60, "b>c"), ENCAP, "red-b -> red-c")
    s.send("vm-b", udp4(s, b, c.mac, "10.0.0.9", "10.0.0.3", 60, "b>c-spoof"), "spoofed_ipv4_source", "spoofed source toward a remote VM: the local checks come first")
    s.remote_host("host-e", HOST_E, "geneve", [LONG_OPTION])
    s.overlay.static_neighbours[HOST_E] = HOST_E_MAC
    e = s.remote_vm("red", "red-e", "host-e", mac(5, 1), ["10.0.0.5"])
    for size in (60, 1336):
        s.send("vm-j", udp4(s, j, e.mac, "10.0.0.10", "10.0.0.5", size, f"j>e{size}"), ENCAP,
               f"red-j -> red-e, {size} B: GENEVE with a 124 B option, 178 B of outer headers (more than the mbuf headroom)"
               + (": exactly 1514 B outer" if size == 1336 else ""))
    s.send("vm-j", udp4(s, j, e.mac, "10.0.0.10", "10.0.0.5", 1337, "j>e-big"), "encap_exceeds_mtu", "1337 B to red-e: 1515 B outer")
    return s


def scenario_overlay_decap():
    s = Scenario("overlay-decap", "VXLAN and GENEVE (with options) from known hosts delivered per VNI; ARP for our VTEP answered")
    v = overlay_topology(s)
    a, b, blue, c, d = v["a"], v["b"], v["blue"], v["c"], v["d"]
    for size in (60, 500, 1464):
        s.send("up0", vxlan_from_b(udp4(s, c, a.mac, "10.0.0.3", "10.0.0.1", size, f"c>a{size}")), DECAP, f"VXLAN VNI 5001 from host-b: red-c -> red-a, {size} B inner")
    s.send("up0", vxlan_from_b(udp4(s, c, b.mac, "10.0.0.3", "10.0.0.2", 100, "c>b"), udp_checksum=0), DECAP, "red-c -> red-b, outer UDP checksum 0")
    s.send("up0", vxlan_from_b(udp4(s, v["blue-c"], blue.mac, "10.0.0.3", "10.0.0.1", 100, "bc>ba"), vni=5002), DECAP, "VNI 5002: blue-c -> blue-a (same MACs and IPs as red)")
    s.send("up0", vxlan_from_b(arp(c, 1, c.mac, "10.0.0.3", "00:00:00:00:00:00", "10.0.0.1")), DECAP_FLOOD, "ARP request from red-c: flooded to red's local ports, not answered, not sent to host-c")
    s.send("up0", vxlan_from_b(arp(c, 2, c.mac, "10.0.0.3", a.mac, "10.0.0.1", dst=a.mac)), DECAP, "ARP reply from red-c to red-a")
    s.send("up0", geneve_from_c(udp4(s, d, a.mac, "10.0.0.4", "10.0.0.1", 200, "d>a")), DECAP, "GENEVE from host-c with the agreed critical option")
    s.send("up0", geneve_from_c(udp4(s, d, b.mac, "10.0.0.4", "10.0.0.2", 200, "d>b"),
                                options=geneve_option(0x0999, 0x01, b"\x01\x02\x03\x04") + geneve_option(*AGREED_OPTION) + geneve_option(0x0999, 0x02, b"")),
           DECAP, "GENEVE with two unknown non-critical options around the agreed one: carried, counted")
    s.send("up0", geneve_from_c(udp4(s, d, a.mac, "10.0.0.4", "10.0.0.1", 1464, "d>a-max"), options=b""), DECAP, "GENEVE without options, 1464 B inner (1514 B outer)")
    s.send("up0", pad60(Ether(src=HOST_B_MAC, dst=BROADCAST) / ARP(op=1, hwsrc=HOST_B_MAC, psrc=HOST_B, hwdst="00:00:00:00:00:00", pdst=VTEP)),
           VTEP_ARP, "host-b asks who has our VTEP: answered with the overlay MAC")
    s.send("up0", pad60(Ether(src=HOST_C_MAC, dst=OUR_MAC) / ARP(op=2, hwsrc=HOST_C_MAC, psrc=HOST_C, hwdst=OUR_MAC, pdst=VTEP)),
           NEIGHBOUR_REPLY, "host-c's ARP reply to our VTEP: taken by the neighbour table (static here: unchanged)")
    return s


def scenario_overlay_bum():
    s = Scenario("overlay-bum", "broadcast, multicast: local flood plus head-end replication per tenant; unknown unicast: local only; tunnel BUM stays local")
    v = overlay_topology(s)
    a, b, blue, c = v["a"], v["b"], v["blue"], v["c"]
    s.send("vm-a", arp(a, 1, a.mac, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.99"), FLOOD, "ARP for an unknown IP: red-b, and replicas to host-b (VXLAN) and host-c (GENEVE)")
    s.send("vm-a", udp4(s, a, "01:00:5e:01:01:01", "10.0.0.1", "239.1.1.1", 300, "mcast"), FLOOD, "IPv4 multicast: replicated to both red hosts")
    s.send("vm-a", udp4(s, a, "02:00:00:00:01:99", "10.0.0.1", "10.0.0.99", 120, "unknown"), FLOOD,
           "unknown unicast: red-b only, never replicated (every remote MAC is programmed, remote hosts would drop it)")
    s.send("vm-a", udp4(s, a, BROADCAST, "10.0.0.1", "10.0.0.255", 1452, "bcast-max"), FLOOD, "1452 B broadcast: fits both tunnels")
    s.send("vm-blue", udp4(s, blue, BROADCAST, "10.0.0.1", "10.0.0.255", 100, "blue-bcast"), FLOOD, "blue broadcast: no other local blue port, one replica to host-b (VNI 5002)")
    s.send("up0", vxlan_from_b(udp4(s, c, BROADCAST, "10.0.0.3", "10.0.0.255", 100, "c-bcast")), DECAP_FLOOD, "broadcast from red-c: red-a and red-b only (split horizon)")
    s.send("up0", vxlan_from_b(udp4(s, c, "01:00:5e:01:01:01", "10.0.0.3", "239.1.1.1", 100, "c-mcast")), DECAP_FLOOD, "multicast from red-c: local only")
    s.send("up0", vxlan_from_b(udp4(s, v["blue-c"], BROADCAST, "10.0.0.3", "10.0.0.255", 100, "bc-bcast"), vni=5002), DECAP_FLOOD, "broadcast from blue-c: blue-a only")
    s.send("vm-b", udp4(s, b, BROADCAST, "10.0.0.2", "10.0.0.255", 80, "b-bcast"), FLOOD, "broadcast from red-b: red-a and both hosts")
    return s


def scenario_overlay_refused():
    s = Scenario("overlay-refused", "everything the uplink refuses: malformed, foreign, spoofed, unknown; each under its own reason")
    v = overlay_topology(s)
    a, c, d = v["a"], v["c"], v["d"]
    good = udp4(s, c, a.mac, "10.0.0.3", "10.0.0.1", 100, "good")
    ok = vxlan_from_b(good)
    s.send("up0", ok, DECAP, "the reference frame: VXLAN red-c -> red-a")
    s.send("up0", ok[:13], "runt_frame", "13 B")
    s.send("up0", vxlan_from_b(udp4(s, c, a.mac, "10.0.0.3", "10.0.0.1", 1465, "big")), "oversize", "1515 B outer: over the uplink MTU")
    s.send("up0", udp4(s, c, OUR_MAC, HOST_B, VTEP, 100, "plain", dport=53, src_mac=HOST_B_MAC), "uplink_not_tunnel", "plain UDP to port 53 of our VTEP")
    s.send("up0", pad60(Ether(src=HOST_B_MAC, dst=OUR_MAC) / IP(src=HOST_B, dst=VTEP, id=3) / ICMP(id=1, seq=1)), "uplink_not_tunnel", "ICMP echo to our VTEP")
    s.send("up0", pad60(Ether(src=HOST_B_MAC, dst=OUR_MAC) / IPv6(src="fd00::2", dst="fd00::1") / UDP(sport=1, dport=4789)), "uplink_not_tunnel", "IPv6 on the uplink")
    s.send("up0", pad60(Ether(src=HOST_B_MAC, dst=BROADCAST) / ARP(op=1, hwsrc=HOST_B_MAC, psrc=HOST_B, pdst="192.168.50.77")), "uplink_not_tunnel", "ARP for another underlay address")
    s.send("up0", (Ether(src=HOST_B_MAC, dst=BROADCAST, type=0x0806) / Raw(bytes(ARP(op=1, hwsrc=HOST_B_MAC, psrc=HOST_B, pdst=VTEP))[:20])).build(), "malformed_arp", "ARP for our VTEP cut at 20 B")
    s.send("up0", ok[:33], "malformed_outer", "outer IPv4 header cut at 19 B")
    s.send("up0", ok[:80], "malformed_outer", "outer total length beyond the frame")
    bad_udp = bytearray(ok)
    bad_udp[38:40] = struct.pack("!H", 5000)
    s.send("up0", bytes(bad_udp), "malformed_outer", "UDP length 5000 in a shorter datagram")
    s.send("up0", vxlan_from_b(good, flags="MF"), "outer_fragment", "first fragment (MF) of a VXLAN datagram")
    s.send("up0", vxlan_from_b(good, flags=0, frag=100), "outer_fragment", "later fragment (offset 800 B)")
    s.send("up0", vxlan_from_b(good, options=[IPOption(b"\x01\x01\x01\x00")]), "outer_ip_options", "outer IPv4 with options (IHL 6)")
    s.send("up0", vxlan_from_b(good, chksum=0xBEEF), "bad_outer_checksum", "outer IPv4 header checksum wrong (RFC 1122 section 3.2.1.2)")
    s.send("up0", vxlan_from_b(good, chksum=0), "bad_outer_checksum", "outer IPv4 header checksum left 0")
    s.send("up0", vxlan_from_b(good, dst_mac="02:bb:00:00:00:09"), "wrong_destination_mac", "VXLAN to another underlay host's MAC (the uplink is promiscuous)")
    s.send("up0", vxlan_from_b(good, dst_mac=BROADCAST), "wrong_destination_mac", "VXLAN to the broadcast MAC")
    s.send("up0", pad60(Ether(src=HOST_B_MAC, dst=BROADCAST) / ARP(op=3, hwsrc="02:66:00:00:00:66", psrc=HOST_C, pdst=VTEP)),
           "uplink_not_tunnel", "opcode-3 ARP naming host-c's address: not learned")
    s.send("up0", pad60(Ether(src=HOST_B_MAC, dst=BROADCAST) / ARP(op=1, hwsrc=BROADCAST, psrc=HOST_B, pdst=VTEP)),
           "uplink_not_tunnel", "ARP request for our VTEP from the broadcast MAC: not answered")
    s.send("up0", pad60(Ether(src="02:66:00:00:00:66", dst=BROADCAST) / ARP(op=1, hwsrc="02:66:00:00:00:66", psrc=VTEP, pdst=VTEP)),
           "uplink_not_tunnel", "gratuitous ARP claiming our VTEP address (RFC 5227 conflict): not answered")
    s.send("up0", vxlan_from_b(good, dst_vtep="192.168.50.9"), "wrong_destination_vtep", "VXLAN to another VTEP address")
    s.send("up0", tunnelled("192.168.50.99", VXLAN_PORT, vxlan_header(5001), good), "unknown_source_vtep", "VXLAN from a VTEP that is no remote host")
    s.send("up0", tunnelled(HOST_B, GENEVE_PORT, geneve_header(5001), good), "tunnel_type_mismatch", "GENEVE from host-b, a VXLAN host")
    s.send("up0", tunnelled(HOST_C, VXLAN_PORT, vxlan_header(5001), udp4(s, d, a.mac, "10.0.0.4", "10.0.0.1", 100, "d-vx"), src_mac=HOST_C_MAC), "tunnel_type_mismatch", "VXLAN from host-c, a GENEVE host")
    s.send("up0", tunnelled(HOST_B, VXLAN_PORT, vxlan_header(5001, flags=0), good), "malformed_tunnel_header", "VXLAN without the I flag")
    s.send("up0", tunnelled(HOST_B, VXLAN_PORT, vxlan_header(5001)[:6], b""), "malformed_tunnel_header", "VXLAN header cut at 6 B")
    dgood = udp4(s, d, a.mac, "10.0.0.4", "10.0.0.1", 100, "d-good")
    s.send("up0", geneve_from_c(dgood), DECAP, "the GENEVE reference frame: red-d -> red-a")
    s.send("up0", tunnelled(HOST_C, GENEVE_PORT, geneve_header(5001, version=1), dgood, src_mac=HOST_C_MAC), "malformed_tunnel_header", "GENEVE version 1")
    s.send("up0", tunnelled(HOST_C, GENEVE_PORT, geneve_header(5001, protocol=0x0800), dgood, src_mac=HOST_C_MAC), "malformed_tunnel_header", "GENEVE carrying IPv4, not Ethernet")
    s.send("up0", tunnelled(HOST_C, GENEVE_PORT, geneve_header(5001, opt_len_words=63), b"", src_mac=HOST_C_MAC), "bad_geneve_option_length", "GENEVE Opt Len 252 B in an 8 B header")
    s.send("up0", tunnelled(HOST_C, GENEVE_PORT, geneve_header(5001, geneve_option(0x0999, 0x01, b"\x00" * 4, length_words=9)), dgood, src_mac=HOST_C_MAC),
           "bad_geneve_option_length", "GENEVE option claiming 36 B inside an 8 B option area")
    s.send("up0", geneve_from_c(dgood, options=geneve_option(0x0102, 0x81, b"\x00" * 4)), "geneve_critical_option", "unknown critical option (C flag set)")
    s.send("up0", tunnelled(HOST_C, GENEVE_PORT, geneve_header(5001, geneve_option(0x0999, 0x80, b""), flags=0), dgood, src_mac=HOST_C_MAC),
           "geneve_critical_option", "unknown critical option with the C flag clear")
    s.send("up0", tunnelled(HOST_C, GENEVE_PORT, geneve_header(5001, flags=0x80), dgood, src_mac=HOST_C_MAC), "geneve_control_packet", "GENEVE O flag: a control message")
    s.send("up0", vxlan_from_b(good, vni=7777), "unknown_vni", "VNI 7777 maps to no tenant")
    s.send("up0", vxlan_from_b(good[:13]), "malformed_inner", "inner frame of 13 B")
    s.send("up0", vxlan_from_b(udp4(s, c, a.mac, "10.0.0.3", "10.0.0.1", 100, "spoof1", src_mac="02:00:00:00:66:66")), "spoofed_inner_source", "inner source MAC of no VM")
    s.send("up0", vxlan_from_b(udp4(s, d, a.mac, "10.0.0.4", "10.0.0.1", 100, "spoof2")), "spoofed_inner_source", "red-d's MAC from host-b: red-d lives on host-c")
    s.send("up0", vxlan_from_b(udp4(s, v["b"], a.mac, "10.0.0.2", "10.0.0.1", 100, "spoof3")), "spoofed_inner_source", "a local VM's MAC from the tunnel")
    s.send("up0", vxlan_from_b(raw_frame(a.mac, c.mac, 0x8100, b"\x00\x05\x08\x00" + bytes(42))), "vlan_tagged", "inner 802.1Q tag")
    s.send("up0", vxlan_from_b(good[:30]), "malformed_ipv4", "inner IPv4 header cut short")
    s.send("up0", vxlan_from_b(udp4(s, c, a.mac, "10.0.0.4", "10.0.0.1", 100, "spoof-ip")), "spoofed_ipv4_source", "inner IPv4 source of red-d from red-c")
    s.send("up0", vxlan_from_b(arp(c, 1, c.mac, "10.0.0.9", "00:00:00:00:00:00", "10.0.0.1")), "spoofed_arp_sender", "inner ARP with a sender IP red-c does not hold")
    c_link_local = link_local(c.mac)
    s.send("up0", vxlan_from_b(bytes(Ether(src=c.mac, dst="33:33:00:00:00:01") / IPv6(src=c_link_local, dst="ff02::1", hlim=255)
                                     / ICMPv6ND_RA() / ICMPv6NDOptSrcLLAddr(lladdr=c.mac))),
           "rogue_router_advertisement", "inner RA from red-c, not allowed to route")
    s.send("up0", vxlan_from_b(bytes(Ether(src=c.mac, dst=a.mac) / IPv6(src=c_link_local, dst=link_local(a.mac), hlim=255)
                                     / ICMPv6ND_Redirect(tgt=c_link_local, dst="fd00::99"))),
           "rogue_redirect", "inner Redirect from red-c")
    s.send("up0", vxlan_from_b(bytes(Ether(src=c.mac, dst="33:33:00:00:00:01") / IPv6(src=c_link_local, dst="ff02::1", hlim=255)
                                     / ICMPv6ND_NA(tgt=c_link_local, O=1) / ICMPv6NDOptDstLLAddr(lladdr=d.mac))),
           "spoofed_neighbor_advertisement", "inner NA from red-c naming red-d's MAC")
    s.send("up0", vxlan_from_b(bytes(Ether(src=c.mac, dst="33:33:00:00:00:01") / IPv6(src=c_link_local, dst="ff02::1", hlim=255, nh=58)
                                     / Raw(bytes([136, 0])))),
           "malformed_icmpv6", "inner ICMPv6 of 2 B")
    s.send("up0", vxlan_from_b(pad60(Ether(src=c.mac, dst=BROADCAST) / IP(src="10.0.0.3", dst="255.255.255.255", id=0x4747) / UDP(sport=67, dport=68)
                                     / BOOTP(op=2, yiaddr="10.0.0.1", xid=9) / DHCP(options=[("message-type", "offer"), "end"]))),
           "rogue_dhcp_server", "inner DHCPOFFER from red-c")
    s.send("up0", vxlan_from_b(udp4(s, c, d.mac, "10.0.0.3", "10.0.0.4", 100, "c>d")), "unknown_inner_destination", "red-c to red-d: never sent back into a tunnel")
    s.send("up0", vxlan_from_b(udp4(s, c, "02:00:00:00:01:77", "10.0.0.3", "10.0.0.77", 100, "c>?")), "unknown_inner_destination", "red-c to an unknown MAC: not flooded")
    return s


def scenario_overlay_neighbour():
    s = Scenario("overlay-neighbour", "a remote VTEP behind an unresolved gateway: frames dropped, one ARP request for the gateway sent")
    v = overlay_topology(s)
    a, c = v["a"], v["c"]
    s.remote_host("host-e", "192.168.60.5", "vxlan")
    e = s.remote_vm("red", "red-e", "host-e", mac(5, 1), ["10.0.0.5"])
    # The neighbour resolver's first round runs before any frame: one request for the gateway,
    # and offline runs never repeat it (docs/overlay.md, "Neighbour resolution").
    s.injected.append(("up0", pad60(Ether(src=OUR_MAC, dst=BROADCAST) / ARP(op=1, hwsrc=OUR_MAC, psrc=VTEP, hwdst="00:00:00:00:00:00", pdst="192.168.50.254")),
                       "ARP request for the gateway 192.168.50.254, the next hop toward host-e"))
    for n in range(3):
        s.send("vm-a", udp4(s, a, e.mac, "10.0.0.1", "10.0.0.5", 100 + n, f"a>e{n}"), "neighbour_unresolved", "red-a -> red-e: the gateway's MAC is unknown")
    s.send("vm-a", udp4(s, a, c.mac, "10.0.0.1", "10.0.0.3", 100, "a>c"), ENCAP, "red-a -> red-c: host-b's next hop is resolved")
    return s


SCENARIOS = [scenario_unicast, scenario_flood, scenario_overlap, scenario_spoof, scenario_arp_responder,
             scenario_malformed, scenario_oversize, scenario_misc, scenario_first_hop,
             scenario_overlay_encap, scenario_overlay_decap, scenario_overlay_bum, scenario_overlay_refused, scenario_overlay_neighbour]


def generate(root):
    summary = {}
    for build in SCENARIOS:
        scenario = build()
        counters = scenario.write(root)
        summary[scenario.name] = (sum(p["rx"] for p in counters["ports"].values()), sum(p["tx"] for p in counters["ports"].values()))
    return summary


def diff_trees(expected_root, actual_root, names):
    problems = []
    for name in names:
        left, right = os.path.join(expected_root, name), os.path.join(actual_root, name)
        if not os.path.isdir(left):
            problems.append(f"{name}: not committed")
            continue
        lfiles = {os.path.relpath(os.path.join(d, f), left) for d, _, fs in os.walk(left) for f in fs}
        rfiles = {os.path.relpath(os.path.join(d, f), right) for d, _, fs in os.walk(right) for f in fs}
        problems += [f"{name}/{f}: committed but no longer generated" for f in sorted(lfiles - rfiles)]
        problems += [f"{name}/{f}: generated but not committed" for f in sorted(rfiles - lfiles)]
        for f in sorted(lfiles & rfiles):
            if not filecmp.cmp(os.path.join(left, f), os.path.join(right, f), shallow=False):
                problems.append(f"{name}/{f}: differs")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and diff with pcaps/ (exit 1 on any difference)")
    parser.add_argument("--out", default=HERE, help="where to write the scenario folders (default: beside this script)")
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory(prefix="vswitch-pcaps-") as tmp:
            summary = generate(tmp)
            problems = diff_trees(args.out, tmp, summary)
        for p in problems:
            print(p, file=sys.stderr)
        print(f"{'FAIL' if problems else 'OK'}: {len(summary)} scenarios, {len(problems)} differences")
        return 1 if problems else 0
    for name in (b().name for b in SCENARIOS):
        shutil.rmtree(os.path.join(args.out, name), ignore_errors=True)
    for name, (rx, tx) in generate(args.out).items():
        print(f"{name}: {rx} frames in, {tx} frames out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
