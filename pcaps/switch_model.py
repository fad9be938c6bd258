"""The reference model of the pcap scenarios (pcaps/README.md): the switching rules of
src/Dataplane/Switching/L2Switch.cs and the overlay's (RFC 7348, RFC 8926, docs/overlay.md),
applied to a scenario's topology to say what each port must transmit and what vswitchd must
count. Written independently of vswitchd, never recorded from it. The scenarios are
scenarios.py; generate.py writes and checks them."""
import ipaddress
import json
import os
import random
import struct

from scapy.layers.inet import ICMP, IP, IPOption, TCP, UDP
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.dhcp6 import DHCP6_Advertise, DHCP6OptClientId, DHCP6OptServerId
from scapy.layers.inet6 import (ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6ND_Redirect, ICMPv6NDOptDstLLAddr,
                                ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop)
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Raw

from pcap_io import PCAP_BASE_TIME, pcap_bytes, read_pcap

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


# ---------------------------------------------------------------------------------------------
# Flows (src/Dataplane/Flows/FlowKey.cs, docs/flows.md): what the flows op reports for a scenario
# whose frames all come from local VMs, every frame counted (sample_rate 1).

PROTOCOL_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "ipv6-icmp"}


def flow_key(frame):
    """The flow of a frame from a local VM, as the flows op spells it (without tenant and VNI):
    IPv4 and IPv6 by protocol, addresses and (TCP, UDP) ports; anything else by EtherType and MACs."""
    ether_type = int.from_bytes(frame[12:14], "big") if len(frame) >= 14 else 0
    l3 = frame[14:]
    if ether_type == 0x0800 and len(l3) >= 20:
        ihl, total = (l3[0] & 0x0F) * 4, int.from_bytes(l3[2:4], "big")
        if l3[0] >> 4 == 4 and 20 <= ihl <= len(l3) and ihl <= total <= len(l3):
            protocol, ports = l3[9], None
            if protocol in (6, 17):
                # Only a first fragment, and only with 4 bytes after the header, carries them.
                first = int.from_bytes(l3[6:8], "big") & 0x1FFF == 0
                ports = struct.unpack("!HH", l3[ihl:ihl + 4]) if first and len(l3) >= ihl + 4 else (0, 0)
            return ip_flow(protocol, ipaddress.IPv4Address(l3[12:16]), ipaddress.IPv4Address(l3[16:20]), ports)
    if ether_type == 0x86DD and len(l3) >= 40 and l3[0] >> 4 == 6 and 40 + int.from_bytes(l3[4:6], "big") <= len(l3):
        assert l3[6] in (6, 17, 58), "flow scenarios keep IPv6 to one upper-layer header (no extension headers)"
        payload = l3[40:40 + int.from_bytes(l3[4:6], "big")]
        ports = (struct.unpack("!HH", payload[:4]) if len(payload) >= 4 else (0, 0)) if l3[6] in (6, 17) else None
        return ip_flow(l3[6], ipaddress.IPv6Address(l3[8:24]), ipaddress.IPv6Address(l3[24:40]), ports)
    if len(frame) < 14:
        return (("ether_type", "0x0000"), ("source", "00:00:00:00:00:00"), ("destination", "00:00:00:00:00:00"))
    return (("ether_type", f"0x{ether_type:04x}"), ("source", mac_text(frame[6:12])), ("destination", mac_text(frame[0:6])))


def ip_flow(protocol, source, destination, ports):
    key = (("protocol", PROTOCOL_NAMES.get(protocol, str(protocol))), ("source", str(source)), ("destination", str(destination)))
    return key + ((("source_port", ports[0]), ("destination_port", ports[1])) if ports is not None else ())


def mac_text(raw):
    return ":".join(f"{b:02x}" for b in raw)


class Scenario:
    def __init__(self, name, summary):
        self.name, self.summary = name, summary
        self.count_flows = False  # set by a scenario: flows on, and expected/flows.json written
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
        if fate in DROP_LABELS and any(r.tenant == tenant and r.host == host.name for r in self.remote_vms):
            # The frame came through a tunnel of the tenant (it has a VM at that host): its drop is the tenant's too.
            self.count(f"tenant_drop:{tenant}:{fate}")
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
        if self.count_flows:
            self.flows = self.model_flows()
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
            uplink_drops = {}
            for key, n in self.extra.items():
                if key.startswith("tenant_drop:") and n:
                    _, tenant, reason = key.split(":")
                    uplink_drops.setdefault(tenant, {})[reason] = n
            counters["tenant_uplink_drops"] = uplink_drops
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

    def model_flows(self):
        """Every input frame of a bound VM port on its tenant's flow, with the drops that hit it."""
        assert self.overlay is None, "flow scenarios have local VMs only"
        flows = {}
        for port in self.ports.values():
            vm = self.vm_on(port.name)
            for frame, _, _ in port.inputs:
                if vm is None:
                    continue  # an unbound port's frames are in no flow
                fate, _, _ = self.classify(port.name, frame)
                key = (("tenant", vm.tenant), ("vni", 0)) + flow_key(frame)
                flow = flows.setdefault(key, {"packets": 0, "bytes": 0, "drops": set()})
                flow["packets"] += 1
                flow["bytes"] += len(frame)
                if fate in DROP_LABELS:
                    flow["drops"].add(fate)
        return sorted((dict(key) | {"packets": f["packets"], "bytes": f["bytes"], "drops": sorted(f["drops"])} for key, f in flows.items()),
                      key=lambda f: json.dumps(f, sort_keys=True))

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
        if self.count_flows:
            lines.append("flows: {enabled: true, top: 1000, sample_rate: 1}")
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
        if self.count_flows:
            files["expected/flows.json"] = (json.dumps(self.flows, indent=1) + "\n").encode()
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
