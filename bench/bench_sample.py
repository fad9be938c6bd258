"""Part of bench.py: the live sampling of one run over DPDK's telemetry socket and /proc."""
import glob
import json
import os
import signal
import socket
import time

from bench_common import SINK_DEV, SOURCE_DEV, WORKER_CORE


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


def cmd_scrape(a):
    """Scrapes URL once a second until --stop seconds, as a Prometheus server with
    scrape_interval 1s would, and writes what each scrape took: the load that /metrics puts on
    vswitchd while the benchmark measures its rate (bench/run --scrape-ab)."""
    import urllib.request
    start = time.monotonic()
    took, samples, failures = [], 0, []
    n = 0
    while time.monotonic() - start < a.stop:
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(a.url, timeout=0.9) as r:
                body = r.read().decode()
            took.append((time.monotonic() - t0) * 1000)
            samples = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
        except OSError as e:
            if time.monotonic() - start > 5:  # vswitchd starts listening a second or two in
                failures.append(f"{time.monotonic() - start:.1f} s: {e}")
        n += 1
        time.sleep(max(0.0, start + n - time.monotonic()))
    with open(a.out, "w") as f:
        json.dump({"scrapes": len(took), "failures": failures, "samples": samples,
                   "max_ms": round(max(took), 1) if took else None,
                   "median_ms": round(sorted(took)[len(took) // 2], 1) if took else None}, f, indent=1)
