// The kernel and initramfs the VMM boots in these tests: the stock Debian kernel of the KVM
// sandbox (on a host with /dev/kvm tests/kvm/sandbox names it in VSWITCH_GUEST_KERNEL; inside the
// nested sandbox it is the running kernel, `uname -r`), and the busybox initramfs of
// tests/kvm/guest-vm, which tests/kvm/run-lane builds and names in VSWITCH_GUEST_INITRAMFS.
using Xunit;

namespace VSwitch.Tests.Kvm.Vmm;

internal static class GuestImages
{
    public static string Kernel
    {
        get
        {
            string? path = Environment.GetEnvironmentVariable("VSWITCH_GUEST_KERNEL");
            if (path is not null)
                return Exists(path, "VSWITCH_GUEST_KERNEL");
            string release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            string cache = Environment.GetEnvironmentVariable("VSWITCH_KVM_SANDBOX_CACHE") ?? "/var/cache/vswitch/kvm-sandbox";
            foreach (string candidate in new[] { $"{cache}/kernels/{release}/root/boot/vmlinuz-{release}", $"/boot/vmlinuz-{release}" })
            {
                if (File.Exists(candidate))
                    return candidate;
            }
            Assert.Fail($"no guest kernel: set VSWITCH_GUEST_KERNEL, or run through tests/kvm/run-lane (the sandbox's kernel, {cache}/kernels/{release})");
            return "";
        }
    }

    public static string Initramfs => Exists(Environment.GetEnvironmentVariable("VSWITCH_GUEST_INITRAMFS")
        ?? throw new InvalidOperationException("VSWITCH_GUEST_INITRAMFS is not set: run through tests/kvm/run-lane, or build it with tests/kvm/guest-vm/build"),
        "VSWITCH_GUEST_INITRAMFS");

    private static string Exists(string path, string variable)
    {
        Assert.True(File.Exists(path), $"{variable}={path} does not exist");
        return path;
    }
}
