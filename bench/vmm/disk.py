#!/usr/bin/python3
"""Runs inside one KVM sandbox boot (bench/vmm/run --disk): in turn boots the same kernel and
initramfs with this repository's vmm on a raw file, vmm on a volume of a thin pool holding the
same bytes (imported with `vmm volume import`), and QEMU (-M microvm -accel kvm) on the raw file,
each with the virtio-blk disk under test (serial "bench") and the read-only tools volume of
bench/vmm/fio-volume (serial "fio-tools"), and reads the guest's VSWITCH-FIO line: Debian's fio
in the guest, O_DIRECT, 4 KiB random reads and writes and 1 MiB sequential reads one request at a
time, and 4 KiB random reads 16 at a time (tests/kvm/guest-vm/init, vsw.fio=).

Same cache mode on both sides: the host's page cache (vmm's pread/pwrite; QEMU cache=writeback
with aio=threads). The file is filled with random bytes before the first run, so reads return
data, not holes.

usage: disk.py OUT.json KERNEL|auto INITRAMFS VMM FIO_VOLUME ROUNDS SECONDS DISK_MIB
"""
import json, os, re, subprocess, sys, time

from guest_kernel import guest_kernel

out, kernel, initramfs, vmm, tools = sys.argv[1:6]
rounds, seconds, disk_mib = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
kernel = guest_kernel(kernel, "disk.py")
disk = "/tmp/bench-disk.img"
with open(disk, "wb") as f:
    for _ in range(disk_mib):
        f.write(os.urandom(1 << 20))
cmdline = f"console=ttyS0 reboot=k panic=-1 pci=off quiet vsw.nonce=bench vsw.disks=2 vsw.fio={seconds}"
spec, pool_spec, pool = "/tmp/bench-disk.json", "/tmp/bench-pool.json", "/tmp/bench-pool"
tools_disk = {"path": tools, "id": "fio-tools", "read_only": True}
machine = {"kernel": kernel, "initramfs": initramfs, "cmdline": cmdline, "memory_mib": 256, "vcpus": 1}
with open(spec, "w") as f:
    json.dump({**machine, "disks": [{"path": disk, "id": "bench"}, tools_disk]}, f)
# The pool volume holds the same bytes, every extent taken: the writes measure a mapped volume.
subprocess.run(["rm", "-rf", pool], check=True)
for args in (["init", "--size", f"{disk_mib + 16}M"], ["create", "--name", "bench", "--size", f"{disk_mib}M"],
             ["attach", "--name", "bench", "--vm", "bench"], ["import", "--name", "bench", "--vm", "bench", "--from", disk]):
    subprocess.run([vmm, "volume", *args, "--pool", pool], check=True, stdout=subprocess.DEVNULL)
with open(pool_spec, "w") as f:
    json.dump({**machine, "name": "bench", "disks": [{"pool": pool, "volume": "bench", "id": "bench"}, tools_disk]}, f)

def commands():
    yield "vmm", [vmm, "run", "--spec", spec, "--serial", "stdout"]
    yield "vmm-pool", [vmm, "run", "--spec", pool_spec, "--serial", "stdout"]
    yield "qemu", ["qemu-system-x86_64", "-M", "microvm,memory-backend=ram", "-accel", "kvm", "-cpu", "host",
                   "-m", "256M", "-object", "memory-backend-memfd,id=ram,size=256M",
                   "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
                   "-no-reboot", "-kernel", kernel, "-initrd", initramfs, "-append", cmdline,
                   "-drive", f"id=d0,file={disk},format=raw,if=none,cache=writeback,aio=threads",
                   "-device", "virtio-blk-device,drive=d0,serial=bench",
                   "-drive", f"id=d1,file={tools},format=raw,if=none,cache=writeback,aio=threads,readonly=on",
                   "-device", "virtio-blk-device,drive=d1,serial=fio-tools"]

def run(name, argv, timeout=600):
    start = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    result = {"name": name}
    for raw in p.stdout:
        line = raw.decode(errors="replace").strip()
        if line.startswith("VSWITCH-FIO-ERROR"):
            print(f"{name}: {line}", file=sys.stderr, flush=True)
        if line.startswith("VSWITCH-FIO "):
            for key, value in re.findall(r"(\w+)=([\d.]+)", line):
                result[key] = float(value)
        if time.monotonic() - start > timeout:
            break
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    result["seconds"] = round(time.monotonic() - start, 1)
    print(json.dumps(result), flush=True)
    return result

results = []
for r in range(rounds):
    order = list(commands())
    order = order[r % len(order):] + order[:r % len(order)]  # each side goes first in turn
    for name, argv in order:
        results.append({**run(name, argv), "round": r})
with open(out, "w") as f:
    json.dump(results, f, indent=1)
