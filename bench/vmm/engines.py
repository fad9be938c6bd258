#!/usr/bin/env python3
"""The host side of a virtio-blk request, engine against engine: what vmm's I/O threads do now
(one synchronous pread/pwrite per request, one request at a time per queue: fio's psync engine
at depth 1) against io_uring at depth 1 and with requests in flight (depth 16). fio on a 256 MiB
file, 4 KiB random reads and writes, through the page cache (as vmm opens volumes) and with
O_DIRECT. Rounds alternate which engine goes first. Prints IOPS and mean completion latency,
medians of the rounds, and each engine's ratio to psync at depth 1.

    engines.py RESULT.json WORKDIR ROUNDS SECONDS
"""
import json
import os
import statistics
import subprocess
import sys

result_path, workdir, rounds, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(workdir, exist_ok=True)
data = os.path.join(workdir, "engines.img")
size_mib = 256
if not os.path.exists(data) or os.path.getsize(data) != size_mib << 20:
    with open(data, "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))

ENGINES = (("psync", 1), ("io_uring", 1), ("io_uring", 16))
MODES = (("randread", 0), ("randwrite", 0), ("randread", 1))


def fio(engine, depth, rw, direct):
    args = ["fio", "--name=job", f"--filename={data}", f"--ioengine={engine}", f"--iodepth={depth}",
            f"--rw={rw}", "--bs=4k", f"--direct={direct}", f"--size={size_mib}M", "--time_based",
            f"--runtime={seconds}", "--ramp_time=1", "--numjobs=1", "--output-format=json",
            # fio drops the file from the page cache before each job unless told not to.
            "--invalidate=0"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    job = json.loads(out)["jobs"][0]
    side = job["read"] if rw.endswith("read") else job["write"]
    return {"iops": side["iops"], "clat_us": side["clat_ns"]["mean"] / 1000}


# Warm the page cache once, so buffered reads in every round find the file there.
subprocess.run(["cat", data], check=True, stdout=subprocess.DEVNULL)
runs = []
for r in range(rounds):
    order = ENGINES if r % 2 == 0 else tuple(reversed(ENGINES))
    for rw, direct in MODES:
        for engine, depth in order:
            figures = fio(engine, depth, rw, direct)
            runs.append({"round": r + 1, "engine": engine, "depth": depth, "rw": rw, "direct": direct, **figures})
            print(f"round {r + 1} {rw:9} direct={direct} {engine:8} depth {depth:2}: "
                  f"{figures['iops']:>10.0f} IOPS, {figures['clat_us']:.1f} us", flush=True)
json.dump(runs, open(result_path, "w"), indent=1)

print()
print(f"{'':28}" + "".join(f"{f'{e} depth {d}':>24}" for e, d in ENGINES))
for rw, direct in MODES:
    row = {}
    for engine, depth in ENGINES:
        sel = [x for x in runs if x["engine"] == engine and x["depth"] == depth and x["rw"] == rw and x["direct"] == direct]
        row[(engine, depth)] = (statistics.median(x["iops"] for x in sel), statistics.median(x["clat_us"] for x in sel))
    base = row[ENGINES[0]][0]
    label = f"{rw} {'O_DIRECT' if direct else 'page cache'}"
    print(f"{label:28}" + "".join(f"{f'{i:.0f} ({c:.1f} us) {i / base:.2f}x':>24}" for i, c in row.values()))
