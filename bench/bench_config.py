"""Part of bench.py: the vswitchd configurations and EAL arguments of each variant, and which capture it reads."""
import json
import os
import sys

from bench_common import BASE, GENEVE_OPTION, INPUT, PMD_DIR, SINK_DEV, SOURCE_DEV, WORKER_CORE, LOCAL_MAC, LOCAL_VTEP, REMOTE_MAC, REMOTE_VTEP, VNI


def eal_args(prefix, mem):
    """The EAL arguments of every side, testpmd and vswitchd alike."""
    if not os.path.isdir(PMD_DIR):
        sys.exit(f"bench.py: no DPDK PMD directory {PMD_DIR}")
    args = ["-l", "0,1", "--no-pci", "--file-prefix", prefix, "-d", PMD_DIR]
    if mem == "huge":
        args += ["--huge-dir", "/dev/hugepages"]
    else:
        args += ["--no-huge", "-m", "1024"]
    return args


def cmd_eal(a):
    print("\n".join(eal_args(a.prefix, a.mem)))


def overlay_config(scenario, pcap):
    """Ports and tenants of an overlay scenario. Encapsulation: vm-in on the pcap source, the
    uplink on the sink, vm-out a remote VM behind host-b, whose VTEP has a static neighbour entry
    (a sink cannot answer ARP). Decapsulation: the uplink on the pcap source (tunnelled frames
    from host-b), vm-out on the sink, vm-in the remote VM that sent them."""
    tunnel, direction = scenario.split("-")
    source, sink = f"{SOURCE_DEV},rx_pcap={pcap},infinite_rx=1", f"{SINK_DEV},no-rx=1"
    vm_in = {"name": "vm-in", "mac": "02:00:00:00:00:01", "ipv4": ["10.0.0.1"]}
    vm_out = {"name": "vm-out", "mac": "02:00:00:00:00:02", "ipv4": ["10.0.0.2"]}
    if direction == "encap":
        ports = [{"name": "in", "devargs": source, "role": "vm"}, {"name": "out", "devargs": sink, "role": "uplink"}]
        local, remote = dict(vm_in, port="in"), dict(vm_out, host="host-b")
    else:
        ports = [{"name": "in", "devargs": source, "role": "uplink"}, {"name": "out", "devargs": sink, "role": "vm"}]
        local, remote = dict(vm_out, port="out"), dict(vm_in, host="host-b")
    host = {"name": "host-b", "vtep": REMOTE_VTEP, "tunnel": tunnel}
    if tunnel == "geneve":
        host["geneve_options"] = [GENEVE_OPTION]
    overlay = {"uplink": "out" if direction == "encap" else "in", "vtep": f"{LOCAL_VTEP}/24", "mac": LOCAL_MAC,
               "static_neighbours": [{"ip": REMOTE_VTEP, "mac": REMOTE_MAC}], "remote_hosts": [host]}
    tenants = [{"name": "t0", "vni": VNI, "vms": [local], "remote_vms": [remote]}]
    return ports, tenants, overlay


def with_flows(cfg, a):
    """The flows section: none (vswitchd's defaults, and all an older baseline build knows),
    flow accounting on or off (--flows), a table of another size (--flow-table), sampling
    (--flow-sample); and /metrics on 127.0.0.1:PORT (--metrics PORT)."""
    flows = {}
    if a.flows:
        flows["enabled"] = a.flows == "on"
    if a.flow_table:
        flows["table_size"] = a.flow_table
    if a.flow_sample:
        flows["sample_rate"] = a.flow_sample
    if flows:
        cfg["flows"] = flows
    if a.metrics:
        cfg["metrics"] = {"listen": f"127.0.0.1:{a.metrics}"}
    return cfg


def cmd_input(a):
    print(INPUT.get(a.variant.removesuffix(BASE), "plain"))


def cmd_config(a):
    """A vswitchd configuration: (2) vm-in on the pcap source and vm-out on the sink; (30) the
    same two plus 28 idle VMs, each on its own net_null port, over 2 tenants of 15 VMs; or one of
    the overlay scenarios (overlay_config)."""
    if a.scenario:
        ports, tenants, overlay = overlay_config(a.scenario, a.pcap)
        cfg = {"dpdk": {"eal_args": eal_args(a.prefix, a.mem), "mbufs": a.mbufs},
               "workers": {"cores": [WORKER_CORE], "idle_sleep_us": 0},
               "ports": ports, "overlay": overlay, "tenants": tenants}
        json.dump(with_flows(cfg, a), sys.stdout, indent=1)
        print()
        return
    ports = [{"name": "in", "devargs": f"{SOURCE_DEV},rx_pcap={a.pcap},infinite_rx=1"},
             {"name": "out", "devargs": f"{SINK_DEV},no-rx=1"}]
    t0 = [{"name": "vm-in", "port": "in", "mac": "02:00:00:00:00:01", "ipv4": ["10.0.0.1"]},
          {"name": "vm-out", "port": "out", "mac": "02:00:00:00:00:02", "ipv4": ["10.0.0.2"]}]
    tenants = [{"name": "t0", "vms": t0}]
    if a.ports == 30:
        tenants.append({"name": "t1", "vms": []})
        null = 1
        for t in range(2):
            first = 3 if t == 0 else 1
            for v in range(first, 16):
                name = f"p{t}-{v}"
                ports.append({"name": name, "devargs": f"net_null{null},no-rx=1"})
                null += 1
                tenants[t]["vms"].append({"name": f"vm{t}-{v}", "port": name, "mac": f"02:00:00:00:{t:02x}:{v:02x}",
                                          "ipv4": [f"10.{t}.0.{v}"]})
        assert len(ports) == 30 and all(len(t["vms"]) == 15 for t in tenants)
    elif a.ports != 2:
        sys.exit("bench.py config: --ports is 2 or 30")
    cfg = {"dpdk": {"eal_args": eal_args(a.prefix, a.mem), "mbufs": a.mbufs},
           "workers": {"cores": [WORKER_CORE], "idle_sleep_us": 0},
           "ports": ports, "tenants": tenants}
    json.dump(with_flows(cfg, a), sys.stdout, indent=1)
    print()
