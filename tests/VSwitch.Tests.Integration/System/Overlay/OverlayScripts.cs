// The overlay test's own program (with /usr/bin/python3, which has scapy), beside peer.py:
//
//   underlay.py inject PLAN.json     from the underlay namespace: build tunnelled frames with
//                                    scapy (VXLAN, RFC 7348 section 5; GENEVE, RFC 8926 section
//                                    3, with options) around an inner UDP frame carrying the
//                                    marker "VSWT[<label>]<seq>", sendp() them on PLAN's iface,
//                                    print "sent N"
//   underlay.py sentinel IFACE SRC DST LABEL
//                                    one frame SRC -> DST, EtherType 0x88b5 (IEEE local
//                                    experimental), marker "LABEL", through a raw socket
//
// The injector stands for anyone on the underlay: it forges VTEP addresses and VNIs.
namespace VSwitch.Tests.Integration.SystemTests.Overlay;

public static class OverlayScripts
{
    public const string Python = """
        import json
        import socket
        import sys


        def marker(label, seq):
            return ("VSWT[%s]%03d" % (label, seq)).encode()


        def build(spec, seq):
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
            frames = [build(spec, seq) for spec in plan["frames"] for seq in range(spec["count"])]
            sendp(frames, iface=plan["iface"], inter=0.001, verbose=False)
            print("sent %d" % len(frames), flush=True)
            return 0


        def sentinel(iface, src, dst, label):
            frame = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) + b"\x88\xb5" + marker(label, 0)
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((iface, 0))
            s.send(frame)
            s.close()
            print("sent 1", flush=True)
            return 0


        if __name__ == "__main__":
            command, args = sys.argv[1], sys.argv[2:]
            sys.exit({"inject": inject, "sentinel": sentinel}[command](*args))
        """;
}
