"""The guest kernel of bench/vmm's jobs, which run inside the KVM sandbox: a path as given, or for
"auto" the kernel the sandbox itself runs, from its cache (as the KVM lane boots it)."""
import os, sys


def guest_kernel(kernel, job):
    if kernel != "auto":
        return kernel
    release = os.uname().release
    cache = os.environ.get("VSWITCH_KVM_SANDBOX_CACHE", "/var/cache/vswitch/kvm-sandbox")
    return next((k for k in (f"{cache}/kernels/{release}/root/boot/vmlinuz-{release}", f"/boot/vmlinuz-{release}")
                 if os.path.exists(k)), None) or sys.exit(f"{job}: no kernel for {release}")
