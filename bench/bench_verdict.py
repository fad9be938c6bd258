"""Part of bench.py: the verdict on a finished run: its rate in the window, its core share, its GCs."""
import csv
import json
import os
import re

from bench_common import MAX_INFLIGHT, OVS_MAX_WINDOW_GAP, rows


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
    inside = [r for r in rows if b["mono_ns"] <= r["mono_ns"] <= e["mono_ns"]]
    return {"collections": sum(e[g] - b[g] for g in ("gen0", "gen1", "gen2")),
            # The probe samples every 100 ms: the most pause time in one sample interval, an
            # upper bound on the longest single pause.
            "longest_pause_ms": round(max((y["pause_ns"] - x["pause_ns"] for x, y in zip(inside, inside[1:])), default=0) / 1e6, 3),
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
    if a.scrape:
        try:
            with open(a.scrape) as f:
                run["scrape"] = json.load(f)
        except (OSError, ValueError) as e:
            run["errors"].append(f"scraper: {e!r}")
    reasons = []
    if run.get("scrape") is not None and (run["scrape"]["failures"] or not run["scrape"]["scrapes"]):
        reasons.append(f"scrapes failed: {run['scrape']['failures'][:3]}")
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
    scraped = run.get("scrape")
    print(f"  {os.path.basename(a.run)[:-5]:<16} {rate}  fwd-thread core share {share}"
          + (f"  {scraped['scrapes']} scrapes of {scraped['samples']} samples (median {scraped['median_ms']} ms)" if scraped else "")
          + f"  {'ok' if run['valid'] else 'INVALID: ' + '; '.join(reasons)}"
          + (f"  [{'; '.join(run['errors'])}]" if run["errors"] else ""))
