#!/usr/bin/python3
"""Runs inside one KVM sandbox boot (bench/vmm/run --net): two guests of one tenant, a and b,
joined by one vswitchd over vhost-user, booted alternately by this repository's vmm and by QEMU
(-M microvm, virtio-net-device on a vhost-user netdev to the same vswitchd config), the same
kernel, initramfs and command line (tests/kvm/guest-vm/init). Per run:

  TCP    a sends TCP_KB KiB to b with busybox nc; the guest times nc (VSWITCH-TCP-SENT ms=)
  UDP    a sends 64-byte UDP frames to b for UDP_S seconds (guest-vm/udpblast.c); b counts
         what arrived between its first and last datagram (VSWITCH-UDP-RECEIVED)
  CPU    per VMM process, the CPU time of its threads other than the vCPUs (vmm: "vcpuN",
         QEMU: "CPU N/KVM"), from /proc, per packet through a's port; both taken from a's
         release (it holds after its link is up, vsw.hold=1) until both guests are done and
         wait on their consoles (vsw.wait_input=1), so boot and power-off are not in them

usage: net.py OUT.json KERNEL|auto INITRAMFS VMM VSWITCHD ROUNDS TCP_KB UDP_S
"""
import json, os, signal, subprocess, sys, tempfile, threading, time

from guest_kernel import guest_kernel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pvp_sample import control  # noqa: E402  (vswitchd's control socket, as bench/pvp asks it)

out, kernel, initramfs, vmm, vswitchd = sys.argv[1:6]
rounds, tcp_kb, udp_s = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
kernel = guest_kernel(kernel, "net.py")
MEMORY_MIB = 256
GUESTS = {  # name: (mac, address, what its init does)
    "a": ("02:00:00:00:00:01", "10.0.0.1", f"vsw.hold=1 vsw.peer=10.0.0.2 vsw.send_kb={tcp_kb} vsw.udp_s={udp_s} vsw.wait_input=1"),
    "b": ("02:00:00:00:00:02", "10.0.0.2", f"vsw.listen=1 vsw.udp_s={udp_s} vsw.wait_input=1"),
}


def vswitchd_config(work):
    # One CPU in the sandbox: EAL and the worker on core 0, sleeping when idle so the guests run
    # (as the KVM lane's GuestNetworkTests do).
    return {
        "dpdk": {"eal_args": ["--no-huge", "-m", "512", "--no-pci", "-l", "0", "--file-prefix", "vmmbench"]},
        "workers": {"cores": [0], "idle_sleep_us": 200},
        "ports": [{"name": f"vh-{n}", "vhost_user": {"socket": f"{work}/{n}.sock", "mode": "client"}} for n in GUESTS],
        "tenants": [{"name": "red", "vms": [{"name": n, "port": f"vh-{n}", "mac": mac, "ipv4": [ip]}
                                            for n, (mac, ip, _) in GUESTS.items()]}],
        "control_socket": f"{work}/vswitchd.sock",
    }


def guest_command(kind, name, work):
    mac, ip, extra = GUESTS[name]
    cmdline = f"console=ttyS0 reboot=k panic=-1 pci=off quiet vsw.nonce={name} vsw.net={ip}/24 {extra}"
    sock = f"{work}/{name}.sock"
    if kind == "vmm":
        spec = f"{work}/{name}.json"
        with open(spec, "w") as f:
            json.dump({"kernel": kernel, "initramfs": initramfs, "memory_mib": MEMORY_MIB, "vcpus": 1, "cmdline": cmdline,
                       "nics": [{"socket": sock, "mac": mac}]}, f)
        return [vmm, "run", "--spec", spec, "--serial", "stdout"]
    # QEMU serves the socket and vswitchd connects, as with vmm; guest RAM is a shared memfd.
    return ["qemu-system-x86_64", "-M", "microvm,memory-backend=ram", "-accel", "kvm", "-cpu", "host",
            "-m", f"{MEMORY_MIB}M", "-object", f"memory-backend-memfd,id=ram,size={MEMORY_MIB}M,share=on",
            "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", kernel, "-initrd", initramfs, "-append", cmdline,
            "-chardev", f"socket,id=c0,path={sock},server=on,wait=off",
            "-netdev", "vhost-user,id=n0,chardev=c0", "-device", f"virtio-net-device,netdev=n0,mac={mac}"]


def non_vcpu_cpu_ticks(pid):
    """CPU ticks (utime + stime) of the process's threads that are not vCPUs."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            if name.startswith("vcpu") or (name.startswith("CPU ") and name.endswith("/KVM")):
                continue
            fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


# KVM's own counters per VM (debugfs kvm/<pid>-<fd>/, each vCPU counter summed over the VM's
# vCPUs): what the guest's exits were, in both VMMs alike.
KVM_DEBUGFS = "/sys/kernel/debug/kvm"
KVM_STATS = ("exits", "mmio_exits", "io_exits", "irq_exits", "halt_exits", "irq_injections",
             "halt_wakeup", "halt_successful_poll", "insn_emulation", "signal_exits", "request_irq_exits")
if not os.path.isdir(KVM_DEBUGFS):
    subprocess.run(["mount", "-t", "debugfs", "debugfs", "/sys/kernel/debug"], check=False)


def kvm_stats(pid):
    vm = next((d for d in (os.listdir(KVM_DEBUGFS) if os.path.isdir(KVM_DEBUGFS) else []) if d.startswith(f"{pid}-")), None)
    stats = {}
    for name in KVM_STATS if vm else ():
        try:
            stats[name] = int(open(f"{KVM_DEBUGFS}/{vm}/{name}").read())
        except (FileNotFoundError, ValueError):
            pass
    return stats


def run(kind, timeout=900):
    work = tempfile.mkdtemp(prefix=f"vmmbench-{kind}-")
    cfg = f"{work}/vswitchd.json"
    json.dump(vswitchd_config(work), open(cfg, "w"))
    switch = subprocess.Popen([vswitchd, "run", "--config", cfg], stdout=subprocess.DEVNULL, stderr=open(f"{work}/vswitchd.log", "w"))
    deadline = time.monotonic() + 120
    while not os.path.exists(f"{work}/vswitchd.sock"):
        if time.monotonic() > deadline or switch.poll() is not None:
            sys.exit(f"net.py: vswitchd did not come up: {open(f'{work}/vswitchd.log').read()}")
        time.sleep(0.2)
    lines = {n: [] for n in GUESTS}
    guests = {}
    for name in ("b", "a"):
        p = subprocess.Popen(guest_command(kind, name, work), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=open(f"{work}/{name}.err", "w"))
        guests[name] = p

        def read(name=name, p=p):
            for raw in p.stdout:
                lines[name].append(raw.decode(errors="replace").strip())
        threading.Thread(target=read, daemon=True).start()

    def seen(name, prefix):
        return next((l for l in lines[name] if l.startswith(prefix)), None)

    def wait(*wanted):
        deadline = time.monotonic() + timeout
        while not all(seen(n, prefix) for n, prefix in wanted):
            if time.monotonic() > deadline or any(p.poll() is not None for p in guests.values()):
                return False
            time.sleep(0.2)
        return True

    def say(name, line):
        guests[name].stdin.write(line.encode() + b"\n")
        guests[name].stdin.flush()

    ok = wait(("b", "VSWITCH-NET-UP"), ("a", "VSWITCH-NET-HOLD"))
    if ok:
        ticks0 = {n: non_vcpu_cpu_ticks(p.pid) for n, p in guests.items()}
        kvm0 = {n: kvm_stats(p.pid) for n, p in guests.items()}
        port0 = control(f"{work}/vswitchd.sock", "counters")["ports"]["vh-a"]
        say("a", "go")
        ok = wait(("a", "VSWITCH-NET-WAITING"), ("b", "VSWITCH-NET-WAITING"))
    if ok:
        ticks = {n: non_vcpu_cpu_ticks(p.pid) - ticks0[n] for n, p in guests.items()}
        kvm = {n: {k: v - kvm0[n].get(k, 0) for k, v in kvm_stats(p.pid).items()} for n, p in guests.items()}
        port = control(f"{work}/vswitchd.sock", "counters")["ports"]["vh-a"]
        packets = port["rx"] + port["tx"] - port0["rx"] - port0["tx"]
        for name in guests:
            say(name, "done")
        wait(("a", "VSWITCH-NET-STATS"), ("b", "VSWITCH-NET-STATS"))
    for p in guests.values():
        try:
            p.wait(60)  # the guests power off after their statistics line
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    switch.send_signal(signal.SIGTERM)
    switch.wait(60)

    def field(line, key):
        return int(line.split(f"{key}=")[1].split()[0]) if line and f"{key}=" in line else None

    sent, received = seen("a", "VSWITCH-TCP-SENT"), seen("b", "VSWITCH-UDP-RECEIVED")
    tcp_ms, udp_n, udp_ms = field(sent, "ms"), field(received, "received"), field(received, "ms")
    if not ok:
        ticks, packets, kvm = {}, 0, {}
    hz = os.sysconf("SC_CLK_TCK")
    result = {
        "name": kind,
        "tcp_mbit_s": tcp_kb * 1024 * 8 / tcp_ms / 1000 if tcp_ms else None,
        "udp_kpps": udp_n / udp_ms if udp_n and udp_ms else None,
        "udp_sent": field(seen("a", "VSWITCH-UDP-SENT"), "sent"),
        "udp_received": udp_n,
        "packets_vh_a": packets,  # from a's release to both guests' end
        # each guest's NIC interrupts over its life (/proc/interrupts), and its frames received and sent
        "kvm": kvm,  # KVM's counters over the same window as packets_vh_a
        "guest_nic": {n: {k: field(seen(n, "VSWITCH-NET-STATS"), k) for k in ("interrupts", "rx_packets", "tx_packets")} for n in GUESTS},
        "non_vcpu_cpu_ms": {n: t * 1000 // hz for n, t in ticks.items()},
        "non_vcpu_cpu_us_per_packet": sum(ticks.values()) * 1e6 / hz / packets if packets else None,
        "serial_tail": {n: l[-3:] for n, l in lines.items()} if not (ok and tcp_ms and udp_n) else None,
    }
    print(json.dumps(result), flush=True)
    return result


results = []
for r in range(rounds):
    # Alternate which goes first, so neither always runs on a sandbox that has just warmed up.
    for kind in (("vmm", "qemu") if r % 2 == 0 else ("qemu", "vmm")):
        results.append(run(kind))
with open(out, "w") as f:
    json.dump(results, f, indent=1)
