#!/usr/bin/python3
"""Helper of bench/run (see bench/README.md). bench/run owns processes, hugepages and cleanup;
its modules own everything that is data: configurations (bench_config.py), the live sampling
of one run over DPDK's telemetry socket (bench_sample.py), the verdict on a finished run
(bench_verdict.py) and the report (bench_report.py); bench_common.py holds what they share.

    bench.py eal     --prefix P --mem huge|nohuge         (testpmd's EAL arguments, one a line)
    bench.py config  --ports 2|30 --pcap IN --prefix P --mem huge|nohuge --mbufs N [--flows on|off] [--flow-table N] [--flow-sample N] [--metrics PORT]
    bench.py config  --scenario vxlan-encap|vxlan-decap|geneve-encap|geneve-decap --pcap IN ...
    bench.py input   --variant V        (which capture a variant reads: plain, vxlan or geneve)
    bench.py sample  --pid PID --socket SOCK --window 10,20 --stop 25 --out RUN.json
    bench.py scrape  --url URL --stop 75 --out SCRAPE.json     (GET URL once a second, as Prometheus would)
    bench.py verdict --kind testpmd|vswitchd|ovs --run RUN.json --stdout F --rc N [--gc GC.csv]
    bench.py report  --dir WORK --doc docs/performance.md [--record] [--label TEXT]
"""
import argparse

from bench_common import OVERLAY_SCENARIOS
from bench_config import cmd_config, cmd_eal, cmd_input
from bench_sample import cmd_sample, cmd_scrape
from bench_verdict import cmd_verdict
from bench_report import cmd_report


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
    c.add_argument("--flows", choices=["on", "off"])
    c.add_argument("--flow-table", type=int)
    c.add_argument("--flow-sample", type=int)
    c.add_argument("--metrics", type=int)
    sc = sub.add_parser("scrape")
    sc.add_argument("--url", required=True)
    sc.add_argument("--stop", type=float, required=True)
    sc.add_argument("--out", required=True)
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
    v.add_argument("--scrape")
    r = sub.add_parser("report")
    r.add_argument("--dir", required=True)
    r.add_argument("--doc", required=True)
    r.add_argument("--record", action="store_true")
    r.add_argument("--label", default="")
    r.add_argument("--started", default="?")
    r.add_argument("--nice", type=int, default=0)
    r.add_argument("--baseline", default="")
    r.add_argument("--baseline-text", default="")
    a = ap.parse_args()
    {"eal": cmd_eal, "config": cmd_config, "input": cmd_input, "sample": cmd_sample, "scrape": cmd_scrape, "verdict": cmd_verdict,
     "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
