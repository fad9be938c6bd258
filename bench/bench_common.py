"""What every part of the benchmark helper (bench.py) shares: the variants, their order and references, the modes and the limits a run is judged by."""

PMD_DIR = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"
SOURCE_DEV = "net_pcap0"  # the ingress port: rx_pcap, infinite_rx
SINK_DEV = "net_null0"    # the output port: a pure sink (no-rx=1)
WORKER_CORE = 1
MAX_INFLIGHT = 32         # one burst: what rx - tx may be when a run stops
OVS_MAX_WINDOW_GAP = 0.001  # OVS has no exit counters: window rx - tx within 0.1 % (the two reads are not atomic)
QUIET_SHARE = 0.9         # below this share of core 1, other load disturbed the run
MAX_SPREAD = 1.25         # fastest / slowest counted run of one side beyond this: a disturbed sitting
TARGET = 0.5              # vswitchd / testpmd, hugepages

# ovs-dpdk-baseline.md (same machine type, same workload, 1 PMD on core 1), for reference.
OVS = {
    "huge": {"testpmd": 78.70, "simple": 25.34, "normal": 19.34, "vxlan": 15.79},
    "nohuge": {"testpmd": 42.80, "simple": 18.58, "normal": 14.94, "vxlan": 12.49},
}

VARIANTS = [  # (key, label) in table order; "ref" is the reference every ratio divides by
    ("ref", "testpmd io fwd (reference, 2 ports)"),
    ("vsw2", "vswitchd, 1 tenant x 2 VMs (2 ports)"),
    ("vsw30", "vswitchd, 2 tenants x 15 VMs (30 ports)"),
    # vsw2 with a 64-flow table on 4096 flows: nearly every frame a new flow (the eviction path).
    ("ref-churn", "testpmd io fwd on the 4096-flow capture (reference)"),
    ("vsw2-churn", "vswitchd, 2 ports, 4096 flows through a 64-flow table"),
    # bench/run --overlay: encapsulation reads the plain capture (reference "ref"); decapsulation
    # reads tunnelled frames, so its reference is testpmd forwarding that same capture.
    ("vxlan-encap", "vswitchd, VXLAN encap (VM -> uplink)"),
    ("geneve-encap", "vswitchd, GENEVE encap, one 8-byte option"),
    ("ovs-vxlan-encap", "OVS-DPDK 3.1, VXLAN encap (tnl_push, br-int -> br-phy)"),
    ("ref-vxlan-decap", "testpmd io fwd on the VXLAN capture (reference)"),
    ("vxlan-decap", "vswitchd, VXLAN decap (uplink -> VM)"),
    ("ref-geneve-decap", "testpmd io fwd on the GENEVE capture (reference)"),
    ("geneve-decap", "vswitchd, GENEVE decap, one 8-byte option"),
]
# The reference each variant's ratio divides by: testpmd on the same input capture.
REFERENCE = {"vxlan-decap": "ref-vxlan-decap", "geneve-decap": "ref-geneve-decap",
             "ref-vxlan-decap": "ref-vxlan-decap", "ref-geneve-decap": "ref-geneve-decap",
             "vsw2-churn": "ref-churn", "ref-churn": "ref-churn"}
# bench/run --baseline REV runs each vswitchd variant V a second time as V@base, from REV's build.
BASE = "@base"


def rows(present, baseline=""):
    """(key, label) of every variant in table order, each baseline twin right after its variant."""
    for key, label in VARIANTS:
        if key in present:
            yield key, label
        if key + BASE in present:
            yield key + BASE, f"{label}, baseline {baseline or 'build'}"
# The capture each variant reads (bench/mkpcap.py [--tunnel ...]).
INPUT = {"vxlan-decap": "vxlan", "ref-vxlan-decap": "vxlan", "geneve-decap": "geneve", "ref-geneve-decap": "geneve",
         "vsw2-churn": "churn", "ref-churn": "churn"}
OVERLAY_SCENARIOS = ("vxlan-encap", "vxlan-decap", "geneve-encap", "geneve-decap")
# The underlay of the overlay scenarios: the same addresses as bench/mkpcap.py's tunnelled capture.
LOCAL_VTEP, REMOTE_VTEP, LOCAL_MAC, REMOTE_MAC, VNI = "192.168.50.1", "192.168.50.2", "02:aa:00:00:00:01", "02:bb:00:00:00:02", 5001
GENEVE_OPTION = {"class": 0x0102, "type": 0x80, "data": "0011223344556677"}
MODES = [("huge", "2 MiB hugepages"), ("nohuge", "--no-huge -m 1024")]
