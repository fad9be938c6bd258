#!/usr/bin/python3
"""Runs inside one KVM sandbox boot (bench/vmm/run --disk): in turn boots the same kernel and
initramfs with this repository's vmm on a raw file, vmm on a volume of a thin pool holding the
same bytes (imported with `vmm volume import`), and QEMU (-M microvm -accel kvm) on the raw file,
each with one virtio-blk disk, and reads the guest's VSWITCH-BLK-BENCH line
(tests/kvm/guest-vm/blkbench.c: 4 KiB random reads, 4 KiB random writes, 1 MiB sequential reads,
O_DIRECT in the guest, one request at a time).

Same cache mode on both sides: the host's page cache (vmm's pread/pwrite; QEMU cache=writeback
with aio=threads). The file is filled with random bytes before the first run, so reads return
data, not holes.

usage: disk.py OUT.json KERNEL|auto INITRAMFS VMM ROUNDS SECONDS DISK_MIB
"""
import json, os, re, subprocess, sys, time

from guest_kernel import guest_kernel

out, kernel, initramfs, vmm = sys.argv[1:5]
rounds, seconds, disk_mib = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
kernel = guest_kernel(kernel, "disk.py")
disk = "/tmp/bench-disk.img"
with open(disk, "wb") as f:
    for _ in range(disk_mib):
        f.write(os.urandom(1 << 20))
cmdline = f"console=ttyS0 reboot=k panic=-1 pci=off quiet vsw.nonce=bench vsw.disks=1 vsw.blkbench={seconds}"
spec, pool_spec, pool = "/tmp/bench-disk.json", "/tmp/bench-pool.json", "/tmp/bench-pool"
machine = {"kernel": kernel, "initramfs": initramfs, "cmdline": cmdline, "memory_mib": 256, "vcpus": 1}
with open(spec, "w") as f:
    json.dump({**machine, "disks": [{"path": disk, "id": "bench"}]}, f)
# The pool volume holds the same bytes, every extent taken: the writes measure a mapped volume.
subprocess.run(["rm", "-rf", pool], check=True)
for args in (["init", "--size", f"{disk_mib + 16}M"], ["create", "--name", "bench", "--size", f"{disk_mib}M"],
             ["attach", "--name", "bench", "--vm", "bench"], ["import", "--name", "bench", "--vm", "bench", "--from", disk]):
    subprocess.run([vmm, "volume", *args, "--pool", pool], check=True, stdout=subprocess.DEVNULL)
with open(pool_spec, "w") as f:
    json.dump({**machine, "name": "bench", "disks": [{"pool": pool, "volume": "bench"}]}, f)

def commands():
    yield "vmm", [vmm, "run", "--spec", spec, "--serial", "stdout"]
    yield "vmm-pool", [vmm, "run", "--spec", pool_spec, "--serial", "stdout"]
    yield "qemu", ["qemu-system-x86_64", "-M", "microvm,memory-backend=ram", "-accel", "kvm", "-cpu", "host",
                   "-m", "256M", "-object", "memory-backend-memfd,id=ram,size=256M",
                   "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
                   "-no-reboot", "-kernel", kernel, "-initrd", initramfs, "-append", cmdline,
                   "-drive", f"id=d0,file={disk},format=raw,if=none,cache=writeback,aio=threads",
                   "-device", "virtio-blk-device,drive=d0"]

def run(name, argv, timeout=600):
    start = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    result = {"name": name}
    for raw in p.stdout:
        line = raw.decode(errors="replace").strip()
        if line.startswith("VSWITCH-BLK-BENCH "):
            for key, value in re.findall(r"(\w+)=([\d.]+)", line):
                result[key] = float(value)
        if time.monotonic() - start > timeout:
            break
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    print(json.dumps(result), flush=True)
    return result

results = []
for r in range(rounds):
    order = list(commands())
    order = order[r % len(order):] + order[:r % len(order)]  # each side goes first in turn
    for name, argv in order:
        results.append(run(name, argv))
with open(out, "w") as f:
    json.dump(results, f, indent=1)
