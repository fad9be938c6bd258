// The program the test runs inside a VM namespace (with /usr/bin/python3, which has scapy).
// Frames are crafted by scapy, an implementation independent of vswitchd's own parsers.
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


        def sentinels(iface, mac, ip, peer_mac, peer_ip, name):
            unicast = mac_bytes(peer_mac) + mac_bytes(mac) + b"\x88\xb5" + marker(name + ":sentinel", 0)
            arp = (mac_bytes(peer_mac) + mac_bytes(mac) + b"\x08\x06"
                   + b"\x00\x01\x08\x00\x06\x04\x00\x01"  # Ethernet/IPv4, request
                   + mac_bytes(mac) + socket.inet_aton(ip) + bytes(6) + socket.inet_aton(peer_ip)
                   + marker(name + ":sentinel-arp", 0))
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((iface, 0))
            s.send(unicast)
            s.send(arp)
            s.close()
            print("sent 2", flush=True)
            return 0


        if __name__ == "__main__":
            command, args = sys.argv[1], sys.argv[2:]
            commands = {"agent": agent, "tcp-server": tcp_server, "tcp-client": tcp_client, "sentinels": sentinels}
            sys.exit(commands[command](*args))
        """;
}
