"""Part of bench.py: the report: medians, ratios against testpmd and the baseline, the machine, docs/performance.md."""
import glob
import json
import os
import statistics
import subprocess
import sys
from datetime import datetime, timezone

from bench_common import BASE, MAX_SPREAD, MODES, OVERLAY_SCENARIOS, OVS, QUIET_SHARE, REFERENCE, TARGET, rows


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


def markdown(summary, runs, mach, label, started, nice, baseline="", work=".", baseline_text_md=""):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = built_revision(work)
    if baseline_text_md:
        commit += f", beside {baseline_text_md}"
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
        gct = f"{gc['collections']}, {gc['pause_ms']} ms (longest ≤ {gc.get('longest_pause_ms', '?')} ms), {gc['allocated_bytes']} B" if gc else "—"
        if r.get("scrape"):
            gct += f"; {r['scrape']['scrapes']} scrapes, {r['scrape']['samples']} samples, median {r['scrape']['median_ms']} ms"
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
            f.write(markdown(summary, runs, mach, a.label, a.started, a.nice, a.baseline, a.dir, a.baseline_text))
        print(f"appended to {a.doc}")
