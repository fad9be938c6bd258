#!/usr/bin/python3
"""Runs inside one KVM sandbox boot (bench/vmm/run): alternately boots the same kernel and
initramfs with this repository's vmm and with QEMU (-M microvm -accel kvm), and measures for
each run the wall time from process start to the guest's VSWITCH-GUEST-READY line on the serial
console, and the process's memory at that moment from /proc/<pid>/status.

Guest RAM is a memfd in both (vmm always; QEMU through memory-backend-memfd), so it shows as
RssShmem and the VMM's own memory is the rest: overhead = VmHWM - RssShmem (peak resident
minus the guest pages touched), and RssAnon + RssFile is reported beside it.

usage: job.py OUT.json KERNEL|auto INITRAMFS VMM ROUNDS MEMORY_MIB
(VMM: the published vmm binary)
(auto: the kernel the sandbox itself runs, from its cache, as the KVM lane does)
"""
import json, os, signal, subprocess, sys, time

from guest_kernel import guest_kernel

out, kernel, initramfs, vmm, rounds, memory = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
kernel = guest_kernel(kernel, "job.py")
cmdline = "console=ttyS0 reboot=k panic=-1 pci=off quiet vsw.wait=1 vsw.nonce=bench"

def commands():
    yield "vmm", [vmm, "run", "--kernel", kernel, "--initramfs", initramfs, "--cmdline", cmdline,
                  "--memory-mib", str(memory), "--vcpus", "1", "--serial", "stdout"]
    yield "qemu", ["qemu-system-x86_64", "-M", "microvm,memory-backend=ram", "-accel", "kvm", "-cpu", "host",
                   "-m", f"{memory}M", "-object", f"memory-backend-memfd,id=ram,size={memory}M",
                   "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
                   "-no-reboot", "-kernel", kernel, "-initrd", initramfs, "-append", cmdline]

def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                fields[key] = int(value.split()[0])  # kB
    return fields

def run(name, argv, timeout=300):
    start = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ready = None
    deadline = start + timeout
    for raw in p.stdout:
        if b"VSWITCH-GUEST-READY" in raw:
            ready = time.monotonic() - start
            break
        if time.monotonic() > deadline:
            break
    mem = status(p.pid) if ready is not None else {}
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    result = {"name": name, "ready_s": ready, **mem}
    if mem:
        result["overhead_kb"] = mem["VmHWM"] - mem["RssShmem"]
    print(json.dumps(result), flush=True)
    return result

results = []
for r in range(rounds):
    for name, argv in commands():
        results.append(run(name, argv))
with open(out, "w") as f:
    json.dump(results, f, indent=1)
