#!/usr/bin/python3
"""Helper of bench/run (see bench/README.md). bench/run owns processes, hugepages and cleanup;
this file owns everything that is data: configurations, the live sampling of one run over DPDK's
telemetry socket, the verdict on a finished run, and the report.

    bench.py eal     --prefix P --mem huge|nohuge         (testpmd's EAL arguments, one a line)
    bench.py config  --ports 2|30 --pcap IN --prefix P --mem huge|nohuge --mbufs N
    bench.py config  --scenario vxlan-encap|vxlan-decap|geneve-encap|geneve-decap --pcap IN ...
    bench.py input   --variant V        (which capture a variant reads: plain, vxlan or geneve)
    bench.py sample  --pid PID --socket SOCK --window 10,20 --stop 25 --out RUN.json
    bench.py verdict --kind testpmd|vswitchd|ovs --run RUN.json --stdout F --rc N [--gc GC.csv]
    bench.py report  --dir WORK --doc docs/performance.md [--record] [--label TEXT]
"""
import argparse
import csv
import glob
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

PMD_DIR = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"
SOURCE_DEV = "net_pcap0"  # the ingress port: rx_pcap, infinite_rx
SINK_DEV = "net_null0"    # the output port: a pure sink (no-rx=1)
WORKER_CORE = 1
MAX_INFLIGHT = 32         # one burst: what rx - tx may be when a run stops
OVS_MAX_WINDOW_GAP = 0.001  # OVS has no exit counters: window rx - tx within 0.1 % (the two reads are not atomic)
QUIET_SHARE = 0.9         # below this share of core 1, other load disturbed the run
MAX_SPREAD = 1.25         # fastest / slowest counted run of one side beyond this: a disturbed sitting
TARGET = 0.5              # vswitchd / testpmd, hugepages

# ovs-dpdk-baseline.md (same machine type, same workload, 1 PMD on core 1), for reference.
OVS = {
    "huge": {"testpmd": 78.70, "simple": 25.34, "normal": 19.34, "vxlan": 15.79},
    "nohuge": {"testpmd": 42.80, "simple": 18.58, "normal": 14.94, "vxlan": 12.49},
}

VARIANTS = [  # (key, label) in table order; "ref" is the reference every ratio divides by
    ("ref", "testpmd io fwd (reference, 2 ports)"),
    ("vsw2", "vswitchd, 1 tenant x 2 VMs (2 ports)"),
    ("vsw30", "vswitchd, 2 tenants x 15 VMs (30 ports)"),
    # bench/run --overlay: encapsulation reads the plain capture (reference "ref"); decapsulation
    # reads tunnelled frames, so its reference is testpmd forwarding that same capture.
    ("vxlan-encap", "vswitchd, VXLAN encap (VM -> uplink)"),
    ("geneve-encap", "vswitchd, GENEVE encap, one 8-byte option"),
    ("ovs-vxlan-encap", "OVS-DPDK 3.1, VXLAN encap (tnl_push, br-int -> br-phy)"),
    ("ref-vxlan-decap", "testpmd io fwd on the VXLAN capture (reference)"),
    ("vxlan-decap", "vswitchd, VXLAN decap (uplink -> VM)"),
    ("ref-geneve-decap", "testpmd io fwd on the GENEVE capture (reference)"),
    ("geneve-decap", "vswitchd, GENEVE decap, one 8-byte option"),
]
# The reference each variant's ratio divides by: testpmd on the same input capture.
REFERENCE = {"vxlan-decap": "ref-vxlan-decap", "geneve-decap": "ref-geneve-decap",
             "ref-vxlan-decap": "ref-vxlan-decap", "ref-geneve-decap": "ref-geneve-decap"}
# bench/run --baseline REV runs each vswitchd variant V a second time as V@base, from REV's build.
BASE = "@base"


def rows(present, baseline=""):
    """(key, label) of every variant in table order, each baseline twin right after its variant."""
    for key, label in VARIANTS:
        if key in present:
            yield key, label
        if key + BASE in present:
            yield key + BASE, f"{label}, baseline {baseline or 'build'}"
# The capture each variant reads (bench/mkpcap.py [--tunnel ...]).
INPUT = {"vxlan-decap": "vxlan", "ref-vxlan-decap": "vxlan", "geneve-decap": "geneve", "ref-geneve-decap": "geneve"}
OVERLAY_SCENARIOS = ("vxlan-encap", "vxlan-decap", "geneve-encap", "geneve-decap")
# The underlay of the overlay scenarios: the same addresses as bench/mkpcap.py's tunnelled capture.
LOCAL_VTEP, REMOTE_VTEP, LOCAL_MAC, REMOTE_MAC, VNI = "192.168.50.1", "192.168.50.2", "02:aa:00:00:00:01", "02:bb:00:00:00:02", 5001
GENEVE_OPTION = {"class": 0x0102, "type": 0x80, "data": "0011223344556677"}
MODES = [("huge", "2 MiB hugepages"), ("nohuge", "--no-huge -m 1024")]


# ---------------------------------------------------------------------------------- config

def eal_args(prefix, mem):
    """The EAL arguments of every side, testpmd and vswitchd alike."""
    if not os.path.isdir(PMD_DIR):
        sys.exit(f"bench.py: no DPDK PMD directory {PMD_DIR}")
    args = ["-l", "0,1", "--no-pci", "--file-prefix", prefix, "-d", PMD_DIR]
    if mem == "huge":
        args += ["--huge-dir", "/dev/hugepages"]
    else:
        args += ["--no-huge", "-m", "1024"]
    return args


def cmd_eal(a):
    print("\n".join(eal_args(a.prefix, a.mem)))


def overlay_config(scenario, pcap):
    """Ports and tenants of an overlay scenario. Encapsulation: vm-in on the pcap source, the
    uplink on the sink, vm-out a remote VM behind host-b, whose VTEP has a static neighbour entry
    (a sink cannot answer ARP). Decapsulation: the uplink on the pcap source (tunnelled frames
    from host-b), vm-out on the sink, vm-in the remote VM that sent them."""
    tunnel, direction = scenario.split("-")
    source, sink = f"{SOURCE_DEV},rx_pcap={pcap},infinite_rx=1", f"{SINK_DEV},no-rx=1"
    vm_in = {"name": "vm-in", "mac": "02:00:00:00:00:01", "ipv4": ["10.0.0.1"]}
    vm_out = {"name": "vm-out", "mac": "02:00:00:00:00:02", "ipv4": ["10.0.0.2"]}
    if direction == "encap":
        ports = [{"name": "in", "devargs": source, "role": "vm"}, {"name": "out", "devargs": sink, "role": "uplink"}]
        local, remote = dict(vm_in, port="in"), dict(vm_out, host="host-b")
    else:
        ports = [{"name": "in", "devargs": source, "role": "uplink"}, {"name": "out", "devargs": sink, "role": "vm"}]
        local, remote = dict(vm_out, port="out"), dict(vm_in, host="host-b")
    host = {"name": "host-b", "vtep": REMOTE_VTEP, "tunnel": tunnel}
    if tunnel == "geneve":
        host["geneve_options"] = [GENEVE_OPTION]
    overlay = {"uplink": "out" if direction == "encap" else "in", "vtep": f"{LOCAL_VTEP}/24", "mac": LOCAL_MAC,
               "static_neighbours": [{"ip": REMOTE_VTEP, "mac": REMOTE_MAC}], "remote_hosts": [host]}
    tenants = [{"name": "t0", "vni": VNI, "vms": [local], "remote_vms": [remote]}]
    return ports, tenants, overlay


def cmd_input(a):
    print(INPUT.get(a.variant.removesuffix(BASE), "plain"))


def cmd_config(a):
    """A vswitchd configuration: (2) vm-in on the pcap source and vm-out on the sink; (30) the
    same two plus 28 idle VMs, each on its own net_null port, over 2 tenants of 15 VMs; or one of
    the overlay scenarios (overlay_config)."""
    if a.scenario:
        ports, tenants, overlay = overlay_config(a.scenario, a.pcap)
        cfg = {"dpdk": {"eal_args": eal_args(a.prefix, a.mem), "mbufs": a.mbufs},
               "workers": {"cores": [WORKER_CORE], "idle_sleep_us": 0},
               "ports": ports, "overlay": overlay, "tenants": tenants}
        json.dump(cfg, sys.stdout, indent=1)
        print()
        return
    ports = [{"name": "in", "devargs": f"{SOURCE_DEV},rx_pcap={a.pcap},infinite_rx=1"},
             {"name": "out", "devargs": f"{SINK_DEV},no-rx=1"}]
    t0 = [{"name": "vm-in", "port": "in", "mac": "02:00:00:00:00:01", "ipv4": ["10.0.0.1"]},
          {"name": "vm-out", "port": "out", "mac": "02:00:00:00:00:02", "ipv4": ["10.0.0.2"]}]
    tenants = [{"name": "t0", "vms": t0}]
    if a.ports == 30:
        tenants.append({"name": "t1", "vms": []})
        null = 1
        for t in range(2):
            first = 3 if t == 0 else 1
            for v in range(first, 16):
                name = f"p{t}-{v}"
                ports.append({"name": name, "devargs": f"net_null{null},no-rx=1"})
                null += 1
                tenants[t]["vms"].append({"name": f"vm{t}-{v}", "port": name, "mac": f"02:00:00:00:{t:02x}:{v:02x}",
                                          "ipv4": [f"10.{t}.0.{v}"]})
        assert len(ports) == 30 and all(len(t["vms"]) == 15 for t in tenants)
    elif a.ports != 2:
        sys.exit("bench.py config: --ports is 2 or 30")
    cfg = {"dpdk": {"eal_args": eal_args(a.prefix, a.mem), "mbufs": a.mbufs},
           "workers": {"cores": [WORKER_CORE], "idle_sleep_us": 0},
           "ports": ports, "tenants": tenants}
    json.dump(cfg, sys.stdout, indent=1)
    print()


# ---------------------------------------------------------------------------------- sample

class Telemetry:
    """DPDK's telemetry v2 socket: SOCK_SEQPACKET, one JSON reply per command."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.connect(path)
        self.hello = json.loads(self.sock.recv(16384))

    def get(self, command):
        self.sock.send(command.encode())
        reply = json.loads(self.sock.recv(1 << 20))
        return reply[command.split(",")[0]]


def boottime_to_monotonic_ns():
    """Offset to turn CLOCK_BOOTTIME seconds into CLOCK_MONOTONIC ns (they differ by suspend time)."""
    return time.monotonic_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def process_start_mono_ns(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    start_ticks = int(fields[19])  # field 22 of proc(5), counted after "pid (comm)"
    return start_ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK") + boottime_to_monotonic_ns()


def thread_times(pid):
    """{tid: (comm, cpu ticks, last cpu)} for every thread of pid."""
    out = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(f"{task}/stat") as f:
                line = f.read()
        except OSError:
            continue
        comm = line[line.index("(") + 1:line.rindex(")")]
        fields = line.rsplit(")", 1)[1].split()
        out[int(task.rsplit("/", 1)[1])] = (comm, int(fields[11]) + int(fields[12]), int(fields[36]))
    return out


def cpu_line(cpu):
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                return [int(x) for x in line.split()[1:]]
    return None


def sleep_until(deadline_ns):
    while True:
        left = deadline_ns - time.monotonic_ns()
        if left <= 0:
            return
        time.sleep(min(left / 1e9, 0.5))


def alive(pid):
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmd_sample(a):
    """Samples one running process at second w0 and w1 after its start, then SIGTERMs it at --stop."""
    w0, w1 = (float(x) for x in a.window.split(","))
    run = {"pid": a.pid, "window_s": [w0, w1], "errors": []}
    t0 = process_start_mono_ns(a.pid)
    run["t0_mono_ns"] = t0
    at = lambda s: t0 + int(s * 1e9)  # noqa: E731
    try:
        tel = None
        while tel is None:
            if not alive(a.pid):
                raise RuntimeError("process exited before its telemetry socket appeared")
            if time.monotonic_ns() > at(w0 - 0.5):
                raise RuntimeError(f"no telemetry socket {a.socket} by second {w0 - 0.5}")
            try:
                tel = Telemetry(a.socket)
            except OSError:
                time.sleep(0.05)
        run["telemetry_s"] = round((time.monotonic_ns() - t0) / 1e9, 2)
        run["dpdk"] = tel.hello.get("version")
        # OVS attaches its ports after EAL is up (telemetry answers before): wait for both.
        while True:
            names = {tel.get(f"/ethdev/info,{p}")["name"]: p for p in tel.get("/ethdev/list")}
            if SOURCE_DEV in names and SINK_DEV in names:
                break
            if time.monotonic_ns() > at(w0 - 0.5):
                raise RuntimeError(f"ports {SOURCE_DEV} and {SINK_DEV} not both up by second {w0 - 0.5} (have {sorted(names)})")
            time.sleep(0.1)
        run["ports"] = len(names)
        src, sink = names[SOURCE_DEV], names[SINK_DEV]
        # Forwarding starts once the ports are up: note when the first frame reaches the sink.
        while time.monotonic_ns() < at(w0 - 0.5):
            if tel.get(f"/ethdev/stats,{sink}")["opackets"] > 0:
                run["first_tx_s"] = round((time.monotonic_ns() - t0) / 1e9, 2)
                break
            time.sleep(0.1)
        pools = tel.get("/mempool/list") or []
        run["mempools"] = {p: tel.get(f"/mempool/info,{p}").get("size") for p in pools}

        def snapshot(second):
            sleep_until(at(second))
            snap = {"threads": thread_times(a.pid), "cpu1": cpu_line(WORKER_CORE)}
            before = time.monotonic_ns()
            snap["sink"] = tel.get(f"/ethdev/stats,{sink}")
            after = time.monotonic_ns()
            snap["src"] = tel.get(f"/ethdev/stats,{src}")
            snap["mono_ns"] = (before + after) // 2
            return snap

        a_, b_ = snapshot(w0), snapshot(w1)
        seconds = (b_["mono_ns"] - a_["mono_ns"]) / 1e9
        tx = b_["sink"]["opackets"] - a_["sink"]["opackets"]
        rx = b_["src"]["ipackets"] - a_["src"]["ipackets"]
        run.update(window_mono_ns=[a_["mono_ns"], b_["mono_ns"]], window_seconds=round(seconds, 4),
                   window_tx=tx, window_rx=rx, rate_pps=tx / seconds)
        run["window_errors"] = {k: b_[p][k] - a_[p][k] for p in ("src", "sink")
                                for k in ("imissed", "ierrors", "oerrors", "rx_nombuf") if b_[p][k] != a_[p][k]}
        # Who had core 1 during the window: the busiest thread should have had all of it.
        ticks = os.sysconf("SC_CLK_TCK")
        used = {t: v[1] - a_["threads"].get(t, ("", 0, 0))[1] for t, v in b_["threads"].items()}
        busiest = max(used, key=used.get)
        comm, _, last = b_["threads"][busiest]
        run["fwd_thread"] = {"name": comm, "last_cpu": last, "cpu_share": round(used[busiest] / ticks / seconds, 3)}
        c0, c1 = a_["cpu1"], b_["cpu1"]
        total = sum(c1) - sum(c0)
        run["cpu1"] = {"steal": round((c1[7] - c0[7]) / total, 3) if total else None,
                       "idle": round((c1[3] - c0[3]) / total, 3) if total else None}
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        run["errors"].append(f"sampling: {e}")
    with open("/proc/loadavg") as f:
        run["loadavg"] = f.read().split()[:3]
    sleep_until(at(a.stop))
    if alive(a.pid):
        os.kill(a.pid, signal.SIGTERM)
    with open(a.out, "w") as f:
        json.dump(run, f, indent=1)


# ---------------------------------------------------------------------------------- verdict

def parse_testpmd(text):
    block = text.split("Accumulated forward statistics for all ports", 1)
    if len(block) < 2:
        return None
    nums = dict((k, int(v)) for k, v in re.findall(r"(RX-packets|RX-dropped|TX-packets|TX-dropped):\s+(\d+)", block[1]))
    return {"rx": nums["RX-packets"], "tx": nums["TX-packets"],
            "drops": {"rx_dropped": nums["RX-dropped"], "tx_dropped": nums["TX-dropped"]}}


def parse_vswitchd(text):
    start = text.find("{")
    if start < 0:
        return None
    doc = json.loads(text[start:])
    ports = doc["ports"]
    # Every configuration names its source port "in" and its sink "out" (the uplink in the
    # overlay scenarios, where no VM is bound to one of them).
    src, sink = ports["in"], ports["out"]
    drops = {k: v for k, v in doc["drops"].items() if v}
    for name, p in ports.items():
        for k in ("imissed", "ierrors", "oerrors", "rx_nombuf"):
            if p[k]:
                drops[f"{name}.{k}"] = p[k]
    return {"rx": src["ipackets"], "tx": sink["opackets"], "drops": drops,
            "allocated_bytes": [w["allocated_bytes"] for w in doc["workers"]],
            "polls": sum(w["polls"] for w in doc["workers"])}


def parse_ovs(run, text):
    """OVS-DPDK prints no counters at exit: judge it on the window, where the telemetry sampler
    read both ports (rx of the source and tx of the sink, read one after the other, so up to a
    burst or two apart), and on its datapath flows (bench/run's configure log), which must push
    the VXLAN header: a sink counts frames whether or not they were encapsulated."""
    if "window_rx" not in run:
        return None
    if "tnl_push(" not in text:
        raise ValueError("no datapath flow with tnl_push in the OVS configure log")
    return {"rx": run["window_rx"], "tx": run["window_tx"], "drops": {}}


def gc_window(path, window):
    """GC activity between the last sample at or before the window and the first at or after it."""
    with open(path) as f:
        rows = [{k: int(v) for k, v in r.items()} for r in csv.DictReader(f)]
    before = [r for r in rows if r["mono_ns"] <= window[0]]
    after = [r for r in rows if r["mono_ns"] >= window[1]]
    if not before or not after:
        return None
    b, e = before[-1], after[0]
    return {"collections": sum(e[g] - b[g] for g in ("gen0", "gen1", "gen2")),
            "gen": [e[g] - b[g] for g in ("gen0", "gen1", "gen2")],
            "pause_ms": round((e["pause_ns"] - b["pause_ns"]) / 1e6, 3),
            "allocated_bytes": e["allocated_bytes"] - b["allocated_bytes"],
            "run_collections": sum(rows[-1][g] for g in ("gen0", "gen1", "gen2")),
            "run_pause_ms": round(rows[-1]["pause_ns"] / 1e6, 3)}


def cmd_verdict(a):
    with open(a.run) as f:
        run = json.load(f)
    run["kind"], run["rc"] = a.kind, a.rc
    if a.kind == "vswitchd" and a.rc != 0:  # testpmd re-raises SIGTERM (143); vswitchd exits 0
        run["errors"].append(f"vswitchd exited with {a.rc}")
    try:
        with open(a.stdout) as f:
            text = f.read()
        exit_stats = parse_ovs(run, text) if a.kind == "ovs" else (parse_testpmd if a.kind == "testpmd" else parse_vswitchd)(text)
    except (OSError, ValueError, KeyError, StopIteration) as e:
        exit_stats, run["errors"] = None, run["errors"] + [f"exit counters: {e!r}"]
    run["exit"] = exit_stats
    if a.gc:
        try:
            run["gc"] = gc_window(a.gc, run["window_mono_ns"]) if "window_mono_ns" in run else None
        except (OSError, ValueError, KeyError) as e:
            run["errors"].append(f"gc probe: {e!r}")
        if run.get("gc") is None:
            run["errors"].append("gc probe: no samples around the window (process did not exit normally?)")
    reasons = []
    if "rate_pps" not in run:
        reasons.append("no rate")
    elif run["rate_pps"] <= 0:
        reasons.append("nothing forwarded in the window")
    if run.get("window_errors"):
        reasons.append(f"port errors in window {run['window_errors']}")
    if exit_stats is None:
        reasons.append("no exit counters")
    else:
        if exit_stats["rx"] - exit_stats["tx"] > (OVS_MAX_WINDOW_GAP * exit_stats["rx"] if a.kind == "ovs" else MAX_INFLIGHT):
            reasons.append(f"rx - tx = {exit_stats['rx'] - exit_stats['tx']} > {MAX_INFLIGHT}")
        if any(exit_stats["drops"].values()):
            reasons.append(f"drops {exit_stats['drops']}")
    run["valid"] = not reasons
    run["invalid_because"] = reasons
    with open(a.run, "w") as f:
        json.dump(run, f, indent=1)
    rate = f"{run['rate_pps'] / 1e6:7.2f} Mpps" if "rate_pps" in run else "   n/a"
    share = run.get("fwd_thread", {}).get("cpu_share")
    print(f"  {os.path.basename(a.run)[:-5]:<16} {rate}  fwd-thread core share {share}"
          f"  {'ok' if run['valid'] else 'INVALID: ' + '; '.join(reasons)}"
          + (f"  [{'; '.join(run['errors'])}]" if run["errors"] else ""))


# ---------------------------------------------------------------------------------- report

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine():
    lscpu = sh("lscpu")
    field = lambda k: next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith(k + ":")), "?")  # noqa: E731,E741
    mhz = sh("grep -m1 'cpu MHz' /proc/cpuinfo | cut -d: -f2").strip()
    return {
        "cpu": f"{field('Model name')} (family {field('CPU family')} model {field('Model')}), "
               f"{field('CPU(s)')} vCPUs, {mhz} MHz TSC" + (" (VM)" if "hypervisor" in field("Flags") else ""),
        "mhz": float(mhz) if mhz else 2100.0,
        "kernel": sh("uname -r"),
        "memory": sh("free -g | awk '/Mem:/{print $2 \" GiB\"}'"),
        "dpdk": sh("dpkg-query -W -f '${Version}' dpdk"),
        "dotnet": sh("dotnet --list-runtimes | awk '/Microsoft.NETCore.App/{print $2}' | tail -1")
                  + " (SDK " + sh("dotnet --version") + ")",
        "thp": sh("cat /sys/kernel/mm/transparent_hugepage/enabled"),
        "hugepages": sh("awk '/HugePages_Total/{print $2}' /proc/meminfo") + " x 2 MiB",
    }


def fmt(x, digits=2):
    return "n/a" if x is None else f"{x:.{digits}f}"


def cycles_per_packet(run, mhz):
    """Core cycles the forwarding thread spent per packet: TSC MHz x its share of core 1 / Mpps."""
    share = run.get("fwd_thread", {}).get("cpu_share")
    return mhz * share / (run["rate_pps"] / 1e6) if share and run.get("rate_pps") else None


def summarize(runs, mhz):
    """Per mode and variant: every figure, the medians of the valid runs, ratios to the reference.
    ratio: of the Mpps medians (the procedure's figure). cpu_ratio: of the cycles/packet medians,
    i.e. packets per second of core time actually received, which the load of others disturbs less."""
    out = {}
    for mode, _ in MODES:
        per = {}
        for key, _ in rows({r["variant"] for r in runs}):
            rs = sorted((r for r in runs if r["mode"] == mode and r["variant"] == key), key=lambda r: r["index"])
            if not rs:
                continue
            for r in rs:
                r["cycles"] = cycles_per_packet(r, mhz)
            valid = [r for r in rs if r.get("valid")]
            rates = [r["rate_pps"] / 1e6 for r in valid]
            cycles = [r["cycles"] for r in valid if r["cycles"]]
            per[key] = {"runs": rs, "valid": len(valid),
                        "median": statistics.median(rates) if rates else None,
                        "cycles": statistics.median(cycles) if cycles else None,
                        "share": statistics.median(r["fwd_thread"]["cpu_share"] for r in valid) if valid else None,
                        "gc": [r["gc"] for r in rs if r.get("gc")]}
        for key, v in per.items():
            ref = per.get(REFERENCE.get(key.removesuffix(BASE), "ref"), {})
            v["ratio"] = v["median"] / ref["median"] if ref.get("median") and v["median"] else None
            v["cpu_ratio"] = ref["cycles"] / v["cycles"] if ref.get("cycles") and v["cycles"] else None
        if per:
            out[mode] = per
    return out


def table(summary, baseline=""):
    lines = []
    for mode, mode_label in MODES:
        if mode not in summary:
            continue
        lines.append(f"\n{mode_label}:")
        lines.append(f"  {'':<40} {'runs (Mpps)':<22} {'median':>7} {'ratio':>6}  {'core':>5} {'cyc/pkt':>7} {'cpu-ratio':>9}")
        for key, label in rows(summary[mode], baseline):
            v = summary[mode][key]
            runs = ", ".join(fmt(r["rate_pps"] / 1e6) + ("" if r.get("valid") else "*") if "rate_pps" in r else "n/a"
                             for r in v["runs"])
            lines.append(f"  {label:<40} {runs:<22} {fmt(v['median']):>7} {fmt(v['ratio']):>6}  {fmt(v['share']):>5} "
                         f"{fmt(v['cycles'], 0):>7} {fmt(v['cpu_ratio']):>9}")
    warning = noise_warning(summary)
    return "\n".join(lines + ([f"\n  WARNING: {warning}"] if warning else []))


def noise_warning(summary):
    """Why the figures of this sitting may not be trusted, or None. Two signs: the forwarding
    thread did not have core 1 to itself, or the runs of one side disagree although it had
    (interference that costs no core time: load on core 0 through shared caches, memory, host)."""
    notes = []
    low = [r for per in summary.values() for v in per.values() for r in v["runs"]
           if r.get("fwd_thread", {}).get("cpu_share", 0) < QUIET_SHARE]
    if low:
        shares = sorted(r["fwd_thread"]["cpu_share"] for r in low if "fwd_thread" in r)
        total = sum(len(v["runs"]) for per in summary.values() for v in per.values())
        notes.append(f"in {len(low)} of {total} runs the forwarding thread had less than {QUIET_SHARE:.0%} of core 1 "
                     f"(lowest {shares[0] if shares else '?'}): other processes ran there, the Mpps figures and their "
                     "ratios carry that noise. Cycles/packet are less affected, but a shared core also pollutes the caches.")
    spread = []
    for mode, per in summary.items():
        for key, v in per.items():
            rates = [r["rate_pps"] for r in v["runs"] if r.get("valid")]
            if len(rates) > 1 and max(rates) / min(rates) > MAX_SPREAD:
                spread.append(f"{mode} {key} {min(rates) / 1e6:.1f}-{max(rates) / 1e6:.1f} Mpps")
    if spread:
        notes.append(f"runs of one side differ by more than {MAX_SPREAD - 1:.0%} ({'; '.join(spread)}) although core "
                     "share does not explain it: load elsewhere on the machine or host slowed some runs. Medians "
                     "still compare; single figures do not.")
    return " ".join(notes) or None


def is_vswitchd(key):
    return not key.startswith(("ref", "ovs"))


def baseline_text(summary):
    """Per mode, how each vswitchd variant's median compares with its baseline twin's."""
    out = []
    for mode, mode_label in MODES:
        for key, v in summary.get(mode, {}).items():
            b = summary[mode].get(key + BASE)
            if b and v.get("median") and b.get("median"):
                out.append(f"{mode_label} {key}: {v['median'] / b['median']:.2f}x the baseline's Mpps"
                           + (f", {b['cycles'] / v['cycles']:.2f}x per core-second" if v.get("cycles") and b.get("cycles") else ""))
    return out


def gc_text(gcs):
    if not gcs:
        return "n/a"
    coll = [g["collections"] for g in gcs]
    pause = [g["pause_ms"] for g in gcs]
    return f"{max(coll)} GCs, {max(pause):.1f} ms" if max(coll) else "0 GCs, 0 ms"


def built_revision(work):
    """The revision bench/run recorded in WORK/revision when it built, with ' (uncommitted changes)'
    if src/Dataplane or native differed from it then (HEAD now may be a later one)."""
    try:
        with open(os.path.join(work, "revision")) as f:
            lines = f.read().split()
    except OSError:
        lines = []
    if not lines:
        return "unknown revision (bench/run recorded none)"
    return lines[0] + (" (uncommitted changes)" if "dirty" in lines[1:] else "")


def markdown(summary, runs, mach, label, started, nice, baseline="", work="."):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = built_revision(work)
    if baseline:
        commit += f", beside a baseline build at {baseline} (rows marked 'baseline'; bench/run --baseline)"
    mbufs = {}
    for r in runs:
        for pool, size in (r.get("mempools") or {}).items():
            mbufs.setdefault(r["variant"], set()).add(size)
    md = [f"\n## {started if started != '?' else now} — bench/run{(' ' + label) if label else ''}\n",
          f"- Machine: {mach['cpu']}; {mach['memory']} RAM; kernel {mach['kernel']}; THP {mach['thp']}; "
          f"hugepages {mach['hugepages']}",
          f"- Software: DPDK {mach['dpdk']}; .NET {mach['dotnet']}; vswitchd at {commit}",
          f"- Started {started}, reported {now}; load average before/after: {runs[0].get('loadavg', ['?'])[0]} / "
          f"{runs[-1].get('loadavg', ['?'])[0]} (other people build on this machine: only same-sitting ratios count)",
          ("- Scheduling: as the procedure (no priority)" if nice == 0 else
           f"- Scheduling: measured process (both sides alike) in its own session with autogroup nice {nice}, "
           "so that other people's builds take less of core 1 (NOT the procedure's default; `bench/run --nice`)"),
          "- Workload: bench/mkpcap.py (1024 x 64 B frames, 1024 UDP flows, vm-in -> vm-out), "
          "net_pcap0 infinite_rx -> net_null0 no-rx=1, worker / forwarding core 1, bursts of 32",
          *(["- Overlay (bench/run --overlay, bench/README.md): VNI 5001, VTEP 192.168.50.1 -> remote host 192.168.50.2 with a "
             "static neighbour; encap reads the 64 B capture and sends on the uplink (null sink); decap reads it tunnelled "
             "(VXLAN 110 B, GENEVE with one 8-byte option 122 B) on the uplink; every ratio divides by testpmd on the same "
             "capture; OVS-DPDK's run and window start 15 s later (its port setup stalls it)"]
            if any(r["variant"] in OVERLAY_SCENARIOS or r["variant"].startswith("ovs") for r in runs) else []),
          f"- Rate: sink opackets between second {runs[0]['window_s'][0]:g} and {runs[0]['window_s'][1]:g} "
          "after process start (DPDK telemetry); a run counts only if rx - tx <= 32 at exit and nothing was dropped",
          "- mbuf pools actually created (DPDK telemetry /mempool/info): "
          + "; ".join(f"{k} {'/'.join(str(s) for s in sorted(v))}" for k, v in mbufs.items())
          + (" — vswitchd ignores `dpdk.mbufs` until the config branch lands (8191, testpmd 16384)"
             if any(8191 in v for v in mbufs.values()) else ""),
          ""]
    for mode, mode_label in MODES:
        if mode not in summary:
            continue
        per = summary[mode]
        md.append(f"### {mode_label}\n")
        md.append("| | runs (Mpps) | median Mpps | x testpmd | core share | cycles/pkt | x testpmd per core-second | GC in window | worker allocated |")
        md.append("|---|---|---|---|---|---|---|---|---|")
        for key, lab in rows(per, baseline):
            v = per[key]
            runs_txt = ", ".join((fmt(r["rate_pps"] / 1e6) if "rate_pps" in r else "n/a") + ("" if r.get("valid") else " (invalid)")
                                 for r in v["runs"])
            alloc = sorted({b for r in v["runs"] for b in ((r.get("exit") or {}).get("allocated_bytes") or [])})
            md.append(f"| {lab} | {runs_txt} | {fmt(v['median'])} | **{fmt(v['ratio'])}** | {fmt(v['share'])} | "
                      f"{fmt(v['cycles'], 0)} | {fmt(v['cpu_ratio'])} | "
                      f"{gc_text(v['gc']) if is_vswitchd(key) else '—'} | "
                      f"{', '.join(f'{b} B' for b in alloc) if is_vswitchd(key) else '—'} |")
        o = OVS[mode]
        md.append(f"| OVS-DPDK 3.1 NORMAL + static fdb (ovs-dpdk-baseline.md, 2026-11-25, not re-measured) | "
                  f"{o['normal']} (testpmd {o['testpmd']}) | | {o['normal'] / o['testpmd']:.2f} | | | | | |")
        md.append(f"| OVS-DPDK 3.1 in_port=1,actions=output:2 (idem) | {o['simple']} | | {o['simple'] / o['testpmd']:.2f} | | | | | |")
        if any(k in per for k in OVERLAY_SCENARIOS):
            md.append(f"| OVS-DPDK 3.1 VXLAN encap (idem) | {o['vxlan']} | | {o['vxlan'] / o['testpmd']:.2f} | | | | | |")
        ratio = per.get("vsw2", {}).get("ratio")
        if mode == "huge" and ratio is not None:
            verdict = "met" if ratio >= TARGET else "NOT met"
            if noise_warning(summary):
                verdict = f"{verdict} on raw figures, but inconclusive: see Noise"
            md.append(f"\nTarget: vswitchd >= {TARGET}x testpmd with hugepages -> 2 ports {ratio:.2f}x "
                      f"({verdict}; per core-second {fmt(per['vsw2']['cpu_ratio'])}x), "
                      f"30 ports {fmt(per.get('vsw30', {}).get('ratio'))}x "
                      f"(per core-second {fmt(per.get('vsw30', {}).get('cpu_ratio'))}x).")
        md.append("")
    if baseline:
        md.append("**Against the baseline:** " + "; ".join(baseline_text(summary)) + ".\n")
    warning = noise_warning(summary)
    if warning:
        md.append(f"**Noise:** {warning}\n")
    md.append("<details><summary>Every run</summary>\n")
    md.append("| run | Mpps | window s | fwd thread, share of core 1 | cycles/pkt | core 1 steal | telemetry up / first tx (s) | exit rx - tx | GC window (collections, pause, process allocated) | verdict |")
    md.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        ex = r.get("exit") or {}
        gc = r.get("gc")
        gct = f"{gc['collections']}, {gc['pause_ms']} ms, {gc['allocated_bytes']} B" if gc else "—"
        ft = r.get("fwd_thread", {})
        md.append(f"| {r['name']} | {fmt(r['rate_pps'] / 1e6) if 'rate_pps' in r else 'n/a'} | {r.get('window_seconds', 'n/a')} | "
                  f"{ft.get('name', '?')} {ft.get('cpu_share', '?')} | {fmt(r.get('cycles'), 0)} | {r.get('cpu1', {}).get('steal', '?')} | "
                  f"{r.get('telemetry_s', '?')} / {r.get('first_tx_s', '?')} | "
                  f"{ex['rx'] - ex['tx'] if ex else 'n/a'} | {gct} | "
                  f"{'ok' if r.get('valid') else 'invalid: ' + '; '.join(r.get('invalid_because', []))}"
                  f"{''.join(f'; note: {e}' for e in r.get('errors', []))} |")
    md.append("\n</details>\n")
    return "\n".join(md)


DOC_HEADER = """# Dataplane performance history

Each section below is appended by `bench/run` (see `bench/README.md`): testpmd io forwarding and
vswitchd measured alternately in one sitting on the same vdevs, as `../shared/benchmarking.md`
prescribes. Only the ratios within one section are comparable; absolute Mpps move with the load
other people put on these shared 2-vCPU machines.

Why not "2 tenants x 64 VMs": vswitchd gives every VM its own DPDK port, and Debian's DPDK 22.11
is built with `RTE_MAX_ETHPORTS` = 32 (`rte_build_config.h`), so one process can hold at most 32
ports, hence at most 32 VMs. The largest table measured is 2 tenants x 15 VMs = 30 ports (the
ingress and sink VMs included, 28 idle `net_null` ports). 128 VMs need either a DPDK built with
`-Dmax_ethports=...` or several VMs per port (vhost-user multi-queue or a port-less VM
abstraction); with the current one-port-per-VM binding they cannot be configured.
"""


def cmd_report(a):
    runs = []
    for path in sorted(glob.glob(os.path.join(a.dir, "runs", "*.json"))):
        with open(path) as f:
            r = json.load(f)
        name = os.path.basename(path)[:-5]  # <mode>-<index>-<variant> (variants may contain '-')
        r["name"], (r["mode"], idx, r["variant"]) = name, name.split("-", 2)
        r["index"] = int(idx)
        runs.append(r)
    if not runs:
        sys.exit("bench.py report: no runs")
    runs.sort(key=lambda r: r.get("t0_mono_ns", 0))
    mach = machine()
    summary = summarize(runs, mach["mhz"])
    print(table(summary, a.baseline))
    for line in baseline_text(summary):
        print(f"  {line}")
    print("  * = run did not count. ratio = median Mpps / testpmd median Mpps (the procedure's figure).\n"
          "  core = median share of core 1 the forwarding thread got in the window; cyc/pkt = TSC MHz x core / Mpps;\n"
          "  cpu-ratio = testpmd cyc/pkt / this cyc/pkt (rate per second of core actually received).")
    for mode, _ in MODES:
        for key in (k for k in summary.get(mode, {}) if is_vswitchd(k)):
            gcs = summary[mode][key].get("gc")
            if gcs:
                print(f"  GC during the window, {mode} {key}: {gc_text(gcs)} (worst run)")
    if a.record:
        os.makedirs(os.path.dirname(os.path.abspath(a.doc)), exist_ok=True)
        new = not os.path.exists(a.doc)
        with open(a.doc, "a") as f:
            if new:
                f.write(DOC_HEADER)
            f.write(markdown(summary, runs, mach, a.label, a.started, a.nice, a.baseline, a.dir))
        print(f"appended to {a.doc}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("eal")
    e.add_argument("--prefix", required=True)
    e.add_argument("--mem", choices=["huge", "nohuge"], required=True)
    c = sub.add_parser("config")
    c.add_argument("--ports", type=int, default=2)
    c.add_argument("--scenario", choices=OVERLAY_SCENARIOS)
    c.add_argument("--pcap", required=True)
    c.add_argument("--prefix", required=True)
    c.add_argument("--mem", choices=["huge", "nohuge"], required=True)
    c.add_argument("--mbufs", type=int, default=16384)
    s = sub.add_parser("sample")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--socket", required=True)
    s.add_argument("--window", default="10,20")
    s.add_argument("--stop", type=float, default=25)
    s.add_argument("--out", required=True)
    v = sub.add_parser("verdict")
    v.add_argument("--kind", choices=["testpmd", "vswitchd", "ovs"], required=True)
    i = sub.add_parser("input")
    i.add_argument("--variant", required=True)
    v.add_argument("--run", required=True)
    v.add_argument("--stdout", required=True)
    v.add_argument("--rc", type=int, required=True)
    v.add_argument("--gc")
    r = sub.add_parser("report")
    r.add_argument("--dir", required=True)
    r.add_argument("--doc", required=True)
    r.add_argument("--record", action="store_true")
    r.add_argument("--label", default="")
    r.add_argument("--started", default="?")
    r.add_argument("--nice", type=int, default=0)
    r.add_argument("--baseline", default="")
    a = ap.parse_args()
    {"eal": cmd_eal, "config": cmd_config, "input": cmd_input, "sample": cmd_sample, "verdict": cmd_verdict,
     "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
