#!/usr/bin/python3
"""Generates the pcap regression scenarios of vswitchd (see pcaps/README.md).

For every scenario this writes, under pcaps/<scenario>/:
  vswitchd.yaml            the switch config, with @IN@, @OUT@ and @PREFIX@ left for the harness
  in/<port>.pcap           what each port receives (an empty capture when it receives nothing)
  expected/<port>.pcap     what each port must transmit
  expected/counters.json   the counters vswitchd must report
  frames.txt               every input frame with its fate, for humans reading a failure

The expected side comes from the reference model of the switching rules in switch_model.py (the
header comment of src/Dataplane/Switching/L2Switch.cs and the rules quoted in pcaps/README.md;
for the overlay, RFC 7348, RFC 8926 and docs/overlay.md), applied to each scenario of
scenarios.py. It is never recorded from vswitchd. Every input frame also states its intended
fate; the model must agree with it, so a scenario cannot silently test something else. The pcap
files are written by pcap_io.py.

Output is deterministic (fixed seeds, fixed timestamps, our own pcap writer): re-running the
generator reproduces the committed files byte for byte, and `--check` proves it.

Usage: /usr/bin/python3 pcaps/generate.py [--check] [--out DIR]
"""
import argparse
import filecmp
import os
import shutil
import sys
import tempfile

from scenarios import SCENARIOS
from switch_model import HERE


def generate(root):
    summary = {}
    for build in SCENARIOS:
        scenario = build()
        counters = scenario.write(root)
        summary[scenario.name] = (sum(p["rx"] for p in counters["ports"].values()), sum(p["tx"] for p in counters["ports"].values()))
    return summary


def diff_trees(expected_root, actual_root, names):
    problems = []
    for name in names:
        left, right = os.path.join(expected_root, name), os.path.join(actual_root, name)
        if not os.path.isdir(left):
            problems.append(f"{name}: not committed")
            continue
        lfiles = {os.path.relpath(os.path.join(d, f), left) for d, _, fs in os.walk(left) for f in fs}
        rfiles = {os.path.relpath(os.path.join(d, f), right) for d, _, fs in os.walk(right) for f in fs}
        problems += [f"{name}/{f}: committed but no longer generated" for f in sorted(lfiles - rfiles)]
        problems += [f"{name}/{f}: generated but not committed" for f in sorted(rfiles - lfiles)]
        for f in sorted(lfiles & rfiles):
            if not filecmp.cmp(os.path.join(left, f), os.path.join(right, f), shallow=False):
                problems.append(f"{name}/{f}: differs")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and diff with pcaps/ (exit 1 on any difference)")
    parser.add_argument("--out", default=HERE, help="where to write the scenario folders (default: beside this script)")
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory(prefix="vswitch-pcaps-") as tmp:
            summary = generate(tmp)
            problems = diff_trees(args.out, tmp, summary)
        for p in problems:
            print(p, file=sys.stderr)
        print(f"{'FAIL' if problems else 'OK'}: {len(summary)} scenarios, {len(problems)} differences")
        return 1 if problems else 0
    for name in (b().name for b in SCENARIOS):
        shutil.rmtree(os.path.join(args.out, name), ignore_errors=True)
    for name, (rx, tx) in generate(args.out).items():
        print(f"{name}: {rx} frames in, {tx} frames out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
