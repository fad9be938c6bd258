"""Part of bench/pvp: the switch configurations, the sampling of one run, and the report.

  pvp_sample.py config VARIANT WORKDIR     vswitchd's config for a vsw* variant, on stdout
  pvp_sample.py idle-ports VARIANT         the idle VMs' "socket mac" lines, one per port
  pvp_sample.py connected WORKDIR         how many of vswitchd's vhost ports have a frontend
  pvp_sample.py sample VARIANT VM_PID WORKDIR OUT
  pvp_sample.py report WORKDIR ROUNDS MHZ BURSTS VARIANT...
  pvp_sample.py sweep-report WORKDIR VARIANT...
"""
import json
import re
import socket
import statistics
import struct
import subprocess
import sys
import time

from bench_sample import Telemetry, process_start_mono_ns, sleep_until

WINDOW = (10.0, 20.0)           # seconds after the VM started
LOOP_MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02")
LOOP_IPS = ("10.0.0.1", "10.0.0.2")
# 2 tenants x 64 VMs: the two looping VMs are red's first two, the other 126 idle.
TENANT_VMS = 64
STALLED_MAC, STALLED_IP = "02:00:00:00:00:03", "10.0.0.3"
SENDER_MAC, SENDER_IP = "02:00:00:00:00:04", "10.0.0.4"

NAMES = {
    "ref": "testpmd io fwd, two net_vhost ports (reference)",
    "vsw": "vswitchd, two vhost_user VM ports",
    "ovs": "OVS-DPDK, two dpdkvhostuser ports, in_port=1,actions=output:2 and back",
    "ovs-normal": "OVS-DPDK, two dpdkvhostuser ports, actions=NORMAL",
    "vsw-128": "vswitchd, 2 tenants x 64 VMs: 128 vhost_user ports, 126 idle with connected frontends",
    "vsw-stall-base": "vswitchd, two VMs + a third VM's port with no frontend, a pcap VM sending to it",
    "vsw-stall": "vswitchd, two VMs + a third VM that never drains its ring, a pcap VM sending to it",
}


def idle_ports(variant, work):
    """(socket, mac) of each idle VM's port: connected frontends that never forward."""
    if variant == "vsw-128":
        return [(f"{work}/vh{i}.sock", vm_mac(i)) for i in range(2, 2 * TENANT_VMS)]
    if variant == "vsw-stall":
        return [(f"{work}/vh2.sock", STALLED_MAC)]
    return []


def vm_mac(i):
    """VM i of the 128: 0 and 1 are the looping VMs' LOOP_MACS."""
    return f"02:00:00:00:{i >> 8:02x}:{(i & 0xFF) + 1:02x}"


def vm_ip(i):
    """VM i of the 128, 10.T.0.N for tenant T: 0 and 1 are LOOP_IPS."""
    return f"10.{i // TENANT_VMS}.0.{i % TENANT_VMS + 1}"


def config(variant, work):
    """vswitchd: hugepages, one worker on core 1 polling without sleeping."""
    ports = [{"name": "vh0", "vhost_user": {"socket": f"{work}/vh0.sock"}},
             {"name": "vh1", "vhost_user": {"socket": f"{work}/vh1.sock"}}]
    red = [{"name": "a", "port": "vh0", "mac": LOOP_MACS[0], "ipv4": [LOOP_IPS[0]]},
           {"name": "b", "port": "vh1", "mac": LOOP_MACS[1], "ipv4": [LOOP_IPS[1]]}]
    tenants = [{"name": "red", "vms": red}]
    if variant == "vsw-128":
        blue = []
        for i in range(2, 2 * TENANT_VMS):
            ports.append({"name": f"vh{i}", "vhost_user": {"socket": f"{work}/vh{i}.sock"}})
            vm = {"name": f"vm{i}", "port": f"vh{i}", "mac": vm_mac(i), "ipv4": [vm_ip(i)]}
            (red if i < TENANT_VMS else blue).append(vm)
        tenants.append({"name": "blue", "vms": blue})
    elif variant in ("vsw-stall", "vsw-stall-base"):
        ports.append({"name": "vh2", "vhost_user": {"socket": f"{work}/vh2.sock"}})
        ports.append({"name": "s0", "devargs": f"net_pcap0,rx_pcap={work}/to-stalled.pcap,infinite_rx=1"})
        red.append({"name": "c", "port": "vh2", "mac": STALLED_MAC, "ipv4": [STALLED_IP]})
        red.append({"name": "s", "port": "s0", "mac": SENDER_MAC, "ipv4": [SENDER_IP]})
    return {
        "dpdk": {"eal_args": ["-l", "0,1", "--file-prefix", "pvp-sw", "--huge-dir", "/dev/hugepages", "--no-pci"], "mbufs": 16384},
        "workers": {"cores": [1], "idle_sleep_us": 0},
        "ports": ports,
        "tenants": tenants,
        "control_socket": f"{work}/vswitchd.sock",
    }


def stalled_pcap(path):
    """The pcap VM s's frames to the stalled VM c: mkpcap's 60-byte UDP workload, 32 flows."""
    from mkpcap import frames
    from scapy.utils import wrpcap
    wrpcap(path, list(frames(32, SENDER_MAC, STALLED_MAC, SENDER_IP, STALLED_IP)))


def control(path, op):
    """One request over vswitchd's control socket (docs/control-socket.md: 4-byte big-endian length, JSON)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        body = json.dumps({"op": op, "id": 1}).encode()
        s.sendall(struct.pack("!I", len(body)) + body)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack("!I", data[:4])[0]:
            chunk = s.recv(1 << 16)
            if not chunk:
                raise OSError("vswitchd closed the control socket")
            data += chunk
        reply = json.loads(data[4:])
        if not reply.get("ok"):
            raise OSError(f"vswitchd refused {op}: {reply}")
        return reply


def connected(work):
    return sum(1 for p in control(f"{work}/vswitchd.sock", "list")["vhost_user"].values() if p["connected"])


def vsw_probe(work):
    """vswitchd's worker polls, cycles, packets and drops (all, and the looping VMs' ports'), and how many vhost ports are connected."""
    c = control(f"{work}/vswitchd.sock", "counters")
    w = c["workers"][0]
    return {"polls": w["polls"], "busy": w["busy_cycles"], "idle": w["idle_cycles"], "packets": w["packets"],
            "drops": dict(c["drops"]), "connected": connected(work),
            "loop_drops": c["ports"]["vh0"]["drops"] + c["ports"]["vh1"]["drops"]}


def cmd_idle_cost(work, out):
    """With only the idle frontends connected: the worker's cycles per poll loop over 2 s."""
    a = vsw_probe(work)
    time.sleep(2)
    b = vsw_probe(work)
    cycles = b["busy"] + b["idle"] - a["busy"] - a["idle"]
    json.dump({"loop_cycles": cycles / max(1, b["polls"] - a["polls"]), "idle_ports": b["connected"]}, open(out, "w"))


def ovs_appctl(work, *args):
    return subprocess.run(["ovs-appctl", "-t", f"{work}/ovs/run/ovs-vswitchd.ctl", *args],
                          check=True, capture_output=True, text=True).stdout


def cmd_sample(variant, vm_pid, work, out):
    """The VM's rx and tx over both ports at seconds 10 and 20 after its start, with the switch's own figures."""
    tel = None
    while tel is None:
        try:
            tel = Telemetry("/var/run/dpdk/pvp-vm/dpdk_telemetry.v2")
        except OSError:
            time.sleep(0.05)
    t0 = process_start_mono_ns(vm_pid)

    def snapshot():
        stats = [tel.get(f"/ethdev/stats,{p}") for p in (0, 1)]
        snap = {"rx": sum(s["ipackets"] for s in stats), "tx": sum(s["opackets"] for s in stats), "t": time.monotonic_ns()}
        if variant.startswith("vsw"):
            snap["vsw"] = vsw_probe(work)
        return snap

    sleep_until(t0 + int(WINDOW[0] * 1e9))
    if variant.startswith("ovs"):
        ovs_appctl(work, "dpif-netdev/pmd-stats-clear")
    a = snapshot()
    sleep_until(t0 + int(WINDOW[1] * 1e9))
    b = snapshot()
    result = {"rate_pps": (b["rx"] - a["rx"]) / ((b["t"] - a["t"]) / 1e9), "in_flight_0": a["tx"] - a["rx"], "in_flight_1": b["tx"] - b["rx"]}
    if variant.startswith("vsw"):
        va, vb = a["vsw"], b["vsw"]
        result["busy_cyc_pkt"] = (vb["busy"] - va["busy"]) / max(1, vb["packets"] - va["packets"])
        result["window_drops"] = {k: vb["drops"][k] - va["drops"][k] for k in vb["drops"] if vb["drops"][k] != va["drops"][k]}
        result["connected"] = [va["connected"], vb["connected"]]
        result["drops"] = {k: n for k, n in vb["drops"].items() if n}
        # Frames of the loop that vswitchd dropped for good (port 1's first bursts, spoofed) are not in flight.
        result["in_flight_0"] -= va["loop_drops"]
        result["in_flight_1"] -= vb["loop_drops"]
    if variant.startswith("ovs"):
        m = re.search(r"avg processing cycles per packet: ([0-9.]+)", ovs_appctl(work, "dpif-netdev/pmd-stats-show"))
        result["busy_cyc_pkt"] = float(m.group(1)) if m else None
    json.dump(result, open(out, "w"))


def testpmd_cycles(log):
    """The reference's busy cycles per packet, printed by --record-core-cycles when it stops."""
    m = re.findall(r"CPU cycles/packet=([0-9.]+)", open(log, errors="replace").read())
    return float(m[-1]) if m else None


def cmd_report(work, rounds, mhz, bursts, variants):
    runs = {v: [json.load(open(f"{work}/{v}-{r}.json")) for r in range(1, rounds + 1)] for v in variants}
    for r in range(1, rounds + 1):
        if "ref" in runs:
            runs["ref"][r - 1]["busy_cyc_pkt"] = testpmd_cycles(f"{work}/ref-{r}.switch.log")
    med = {v: statistics.median(x["rate_pps"] / 1e6 for x in runs[v]) for v in variants}
    base = med.get("ref")
    print("| switch | runs (Mpps looped) | median | ratio to reference | busy cyc/pkt (median) | frames in flight | lost in window |")
    print("|---|---|---|---|---|---|---|")
    for v in variants:
        cycles = [x["busy_cyc_pkt"] for x in runs[v] if x.get("busy_cyc_pkt") is not None]
        flight = sorted({x["in_flight_1"] for x in runs[v]})
        lost = max(x["in_flight_0"] - x["in_flight_1"] for x in runs[v])
        rates = ", ".join(f"{x['rate_pps'] / 1e6:.2f}" for x in runs[v])
        print(f"| {NAMES[v]} | {rates} | {med[v]:.2f} | "
              f"{f'{med[v] / base:.2f}' if base else '-'} | {f'{statistics.median(cycles):.0f}' if cycles else '-'} | "
              f"{', '.join(str(f) for f in flight)} | {lost} |")
    notes = []
    if "vsw-128" in runs:
        conn = min(min(x["connected"]) for x in runs["vsw-128"])
        idle = [json.load(open(f"{work}/vsw-128-{r}.idle.json")) for r in range(1, rounds + 1)]
        loop = statistics.median(x["loop_cycles"] for x in idle)
        notes.append(f"vsw-128: at least {conn} of 128 vhost ports connected at both ends of every window"
                     + (f"; {med['vsw-128'] / med['vsw']:.2f}x the 2-VM figure" if "vsw" in med else "")
                     + f". Before the loop started, with only the {idle[0]['idle_ports']} idle frontends connected, a poll loop took "
                     f"{loop:.0f} cycles (median), {loop / idle[0]['idle_ports']:.1f} per idle port.")
    if "vsw-stall" in runs and "vsw-stall-base" in runs:
        full = statistics.median(x["window_drops"].get("guest_rx_ring_full", 0) / 10 for x in runs["vsw-stall"])
        notes.append(f"vsw-stall: the loop at {med['vsw-stall'] / med['vsw-stall-base']:.3f}x the same run without the stalled VM; "
                     f"{full / 1e6:.2f} M frames/s to the stalled VM counted as guest_rx_ring_full.")
    print()
    print(f"{bursts} bursts of 32 sent from each VM port at the start (testpmd tx_first); frames in flight are the VM's "
          f"tx minus rx at second 20, less what vswitchd dropped for good (port 1's first bursts, spoofed); lost in window "
          f"is the fall of that figure from second 10 to 20. Busy cycles: testpmd --record-core-cycles (whole run), "
          f"OVS pmd-stats-show 'avg processing cycles per packet', vswitchd busy_cycles/packets; TSC {mhz:.0f} MHz.")
    for n in notes:
        if n:
            print(f"\n{n}")


def cmd_sweep_report(work, variants):
    """Mpps by bursts in flight at the start, one run each: where doubling stops raising the rate."""
    counts = (1, 2, 4, 8, 16, 32)
    print("| switch | " + " | ".join(f"{n} bursts" for n in counts) + " |")
    print("|---|" + "---|" * len(counts))
    for v in variants:
        cells = []
        for n in counts:
            r = json.load(open(f"{work}/{v}-b{n}.json"))
            cells.append(f"{r['rate_pps'] / 1e6:.2f} ({r['in_flight_1']})")
        print(f"| {NAMES[v]} | " + " | ".join(cells) + " |")
    print("\nMpps looped, and in brackets the frames in flight at second 20 (the VM's tx minus rx, less what "
          "vswitchd dropped for good: port 1's first bursts, spoofed).")


def main(argv):
    cmd = argv[1]
    if cmd == "config":
        print(json.dumps(config(argv[2], argv[3]), indent=1))
        if argv[2].startswith("vsw-stall"):
            stalled_pcap(f"{argv[3]}/to-stalled.pcap")
    elif cmd == "idle-ports":
        for sock, mac in idle_ports(argv[2], argv[3]):
            print(sock, mac)
    elif cmd == "connected":
        print(connected(argv[2]))
    elif cmd == "idle-cost":
        cmd_idle_cost(argv[2], argv[3])
    elif cmd == "sample":
        cmd_sample(argv[2], int(argv[3]), argv[4], argv[5])
    elif cmd == "report":
        cmd_report(argv[2], int(argv[3]), float(argv[4]), argv[5], argv[6:])
    elif cmd == "sweep-report":
        cmd_sweep_report(argv[2], argv[3:])
    else:
        sys.exit(f"pvp_sample.py: unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
