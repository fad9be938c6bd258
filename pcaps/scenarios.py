"""The pcap regression scenarios (pcaps/README.md): each builds a topology and its input frames,
every frame with its intended fate, which the reference model (switch_model.py) must agree with."""
from switch_model import *  # noqa: F403 - the scenarios are written in the model's terms

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
    s.count_flows = True
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
    s.count_flows = True
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
    s.count_flows = True
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
