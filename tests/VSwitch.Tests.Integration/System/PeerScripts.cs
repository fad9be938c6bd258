// The system tests' one program (peer.py, run with /usr/bin/python3, which has scapy), inside a
// VM namespace or, for the overlay tests, the underlay's. Frames are crafted by scapy, an
// implementation independent of vswitchd's own parsers.
//
//   peer.py agent PLAN.json         bind a UDP sink, build the plan's frames, print "ready N",
//                                   wait for "go" on stdin, sendp() them, print "sent N", then
//                                   wait for stdin to close (the sink stays bound until then)
//   peer.py tcp-server IP PORT ID [MSS]
//                                   accept one connection, read to EOF, answer "ID <bytes> <sha256>"
//   peer.py tcp-client IP PORT N [MSS]
//                                   send N pattern bytes, half-close, print the answer and the
//                                   line "sent <bytes> <sha256>"; MSS (TCP_MAXSEG, on both ends)
//                                   caps segments below what the interface MTU would allow
//   peer.py sentinels IFACE MAC IP PEER_MAC PEER_IP NAME
//                                   end-of-run sentinels (SystemRun.cs), through a raw socket (no
//                                   scapy: they end every run, so they have to be quick):
//                                   MAC -> PEER_MAC, EtherType 0x88b5 (IEEE local experimental),
//                                   marker "NAME:sentinel"; then an ARP request for PEER_IP,
//                                   unicast to PEER_MAC, marker "NAME:sentinel-arp" in its trailer
//   peer.py sentinel IFACE SRC DST LABEL
//                                   one frame SRC -> DST, EtherType 0x88b5, marker "LABEL", through
//                                   a raw socket (the overlay runs' sentinels, OverlayRun.cs)
//   peer.py inject PLAN.json        from the underlay namespace: build tunnelled frames (VXLAN,
//                                   RFC 7348 section 5; GENEVE, RFC 8926 section 3, with options)
//                                   around an inner UDP frame, sendp() them on PLAN's iface, print
//                                   "sent N". The injector stands for anyone on the underlay: it
//                                   forges VTEP addresses and VNIs.
//
// Each crafted frame carries the marker "VSWT[<label>]<seq>": captures are tallied by label.
// The UDP sink exists so that unicast UDP to the namespace's address is swallowed silently: an
// unbound port would make the kernel answer with ICMP errors that quote the marker.
namespace VSwitch.Tests.Integration.SystemTests;

public static class PeerScripts
{
    public const int SinkPort = 7777;

    public const string Python = """
        import hashlib
        import json
        import socket
        import sys


        def marker(label, seq):
            return ("VSWT[%s]%03d" % (label, seq)).encode()


        def build(spec, seq):
            from scapy.all import ARP, IP, UDP, Dot1AD, Dot1Q, Ether, Raw

            payload = Raw(marker(spec["label"], seq))
            eth = Ether(src=spec["eth_src"], dst=spec["eth_dst"])
            kind = spec["kind"]

            def udp():
                return IP(src=spec["ip_src"], dst=spec["ip_dst"]) / UDP(sport=spec["udp_port"], dport=spec["udp_port"]) / payload

            if kind == "udp":
                return eth / udp()
            if kind == "vlan_udp":
                return eth / Dot1Q(vlan=spec["vlan"]) / udp()
            if kind == "qinq_udp":
                return eth / Dot1AD(vlan=spec["vlan"]) / Dot1Q(vlan=spec["inner_vlan"]) / udp()
            if kind == "arp":
                # The marker rides in the trailer after the 28-byte ARP body; the responder
                # rewrites the frame in place, so a reply still carries it.
                return eth / ARP(op=spec["arp_op"], hwsrc=spec["arp_hwsrc"], psrc=spec["arp_psrc"],
                                 hwdst=spec.get("arp_hwdst", "00:00:00:00:00:00"), pdst=spec["arp_pdst"]) / payload
            raise SystemExit("unknown frame kind %r" % kind)


        def agent(plan_path):
            with open(plan_path) as f:
                plan = json.load(f)
            sink = None
            if plan.get("sink_port"):
                sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sink.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sink.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                sink.bind(("0.0.0.0", plan["sink_port"]))
            frames = []
            for spec in plan.get("frames", []):
                frames.extend(build(spec, seq) for seq in range(spec["count"]))
            if frames:
                from scapy.all import conf
                conf.verb = 0
            print("ready %d" % len(frames), flush=True)
            if sys.stdin.readline().strip() != "go":
                return 3
            if frames:
                from scapy.all import sendp
                sendp(frames, iface=plan["iface"], inter=plan.get("gap_s", 0.001), verbose=False)
            print("sent %d" % len(frames), flush=True)
            sys.stdin.read()
            return 0


        def pattern(n):
            block = bytes(range(256))
            return (block * (n // 256 + 1))[:n]


        def tcp_socket(mss):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if mss is not None:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, int(mss))
            return s


        def tcp_server(ip, port, identity, mss=None):
            s = tcp_socket(mss)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, int(port)))
            s.listen(1)
            s.settimeout(30)
            print("listening %s:%s" % (ip, port), flush=True)
            conn, peer = s.accept()
            conn.settimeout(30)
            digest = hashlib.sha256()
            total = 0
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                digest.update(data)
                total += len(data)
            conn.sendall(("%s %d %s" % (identity, total, digest.hexdigest())).encode())
            conn.close()
            print("served %s %d" % (peer[0], total), flush=True)
            return 0


        def tcp_client(ip, port, size, mss=None):
            data = pattern(int(size))
            c = tcp_socket(mss)
            c.settimeout(15)
            c.connect((ip, int(port)))
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            answer = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                answer += chunk
            c.close()
            print(answer.decode(), flush=True)
            print("sent %d %s" % (len(data), hashlib.sha256(data).hexdigest()), flush=True)
            return 0


        def mac_bytes(mac):
            return bytes.fromhex(mac.replace(":", ""))


        def send_raw(iface, frames):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((iface, 0))
            for frame in frames:
                s.send(frame)
            s.close()
            print("sent %d" % len(frames), flush=True)
            return 0


        def experimental(src, dst, label):
            return mac_bytes(dst) + mac_bytes(src) + b"\x88\xb5" + marker(label, 0)


        def sentinels(iface, mac, ip, peer_mac, peer_ip, name):
            arp = (mac_bytes(peer_mac) + mac_bytes(mac) + b"\x08\x06"
                   + b"\x00\x01\x08\x00\x06\x04\x00\x01"  # Ethernet/IPv4, request
                   + mac_bytes(mac) + socket.inet_aton(ip) + bytes(6) + socket.inet_aton(peer_ip)
                   + marker(name + ":sentinel-arp", 0))
            return send_raw(iface, [experimental(mac, peer_mac, name + ":sentinel"), arp])


        def sentinel(iface, src, dst, label):
            return send_raw(iface, [experimental(src, dst, label)])


        def build_tunnelled(spec, seq):
            from scapy.all import IP, UDP, Ether, Raw
            from scapy.layers.vxlan import VXLAN
            from scapy.contrib.geneve import GENEVE, GeneveOptions

            inner = (Ether(src=spec["inner_src_mac"], dst=spec["inner_dst_mac"])
                     / IP(src=spec["inner_src_ip"], dst=spec["inner_dst_ip"])
                     / UDP(sport=spec["sink_port"], dport=spec["sink_port"]) / Raw(marker(spec["label"], seq)))
            if spec["tunnel"] == "vxlan":
                port, header = 4789, VXLAN(flags=0x08, vni=spec["vni"])
            else:
                options = [GeneveOptions(classid=o["class"], type=o["type"], data=bytes.fromhex(o["data"]))
                           for o in spec.get("geneve_options", [])]
                # C flag: some option has the critical bit, the type's high bit (RFC 8926 section 3.4).
                critical = int(any(o["type"] & 0x80 for o in spec.get("geneve_options", [])))
                port, header = 6081, GENEVE(vni=spec["vni"], proto=0x6558, critical=critical, options=options)
            return (Ether(src=spec["outer_src_mac"], dst=spec["outer_dst_mac"])
                    / IP(src=spec["outer_src_ip"], dst=spec["outer_dst_ip"], ttl=64, flags="DF")
                    / UDP(sport=49152 + seq, dport=port) / header / inner)


        def inject(plan_path):
            with open(plan_path) as f:
                plan = json.load(f)
            from scapy.all import conf, sendp
            conf.verb = 0
            frames = [build_tunnelled(spec, seq) for spec in plan["frames"] for seq in range(spec["count"])]
            sendp(frames, iface=plan["iface"], inter=0.001, verbose=False)
            print("sent %d" % len(frames), flush=True)
            return 0


        if __name__ == "__main__":
            command, args = sys.argv[1], sys.argv[2:]
            commands = {"agent": agent, "tcp-server": tcp_server, "tcp-client": tcp_client, "sentinels": sentinels,
                        "sentinel": sentinel, "inject": inject}
            sys.exit(commands[command](*args))
        """;
}
