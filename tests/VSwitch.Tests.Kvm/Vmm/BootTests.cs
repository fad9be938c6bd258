// The VMM boots a stock Debian kernel with the tests/kvm/guest-vm initramfs, and the guest itself
// reports what it got (VSWITCH-GUEST-READY nonce= nproc= memtotal_kb=) before it powers off
// through ACPI. The nonce is random per run, so the line can only come from this boot.
using System.Text.RegularExpressions;
using Xunit;

namespace VSwitch.Tests.Kvm.Vmm;

public partial class BootTests
{
    // A nested TCG sandbox boots the guest in 20-40 s with one vCPU; several vCPUs share one
    // emulated CPU there and take longer. The bound is only there so a hang fails the test.
    private static readonly TimeSpan BootLimit = TimeSpan.FromSeconds(240);

    private const int MemoryMib = 256;

    /// <summary>The guest command line the lane uses: quiet boot, no PCI, a panic ends the VM.</summary>
    internal static string CommandLine(string nonce, string extra = "") =>
        $"console=ttyS0 reboot=k panic=-1 pci=off quiet vsw.nonce={nonce} {extra}".TrimEnd();

    internal static string NewNonce() => Convert.ToHexString(Guid.NewGuid().ToByteArray().AsSpan(0, 8)).ToLowerInvariant();

    [GeneratedRegex(@"^VSWITCH-GUEST-READY nonce=(\S*) nproc=(\d+) memtotal_kb=(\d+)$")]
    internal static partial Regex ReadyLine();

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void The_guest_boots_reports_its_cpus_and_memory_and_powers_off(int vcpus)
    {
        string nonce = NewNonce();
        using VmmProcess vmm = VmmProcess.Start("--kernel", GuestImages.Kernel, "--initramfs", GuestImages.Initramfs,
            "--cmdline", CommandLine(nonce), "--memory-mib", $"{MemoryMib}", "--vcpus", $"{vcpus}");

        int exitCode = vmm.WaitForExit(BootLimit);
        TestContext.Current.SendDiagnosticMessage($"{vcpus} vCPU(s): vmm ran {vmm.Elapsed.TotalSeconds:F1} s");

        string serial = vmm.Serial;
        Match ready = serial.Split('\n').Select(l => ReadyLine().Match(l.TrimEnd('\r'))).FirstOrDefault(m => m.Success)
                      ?? Match.Empty;
        Assert.True(ready.Success, $"no VSWITCH-GUEST-READY line.\nstderr:\n{vmm.Stderr}\nserial:\n{serial}");
        Assert.Equal(nonce, ready.Groups[1].Value);
        Assert.Equal(vcpus, int.Parse(ready.Groups[2].Value));
        // MemTotal is RAM minus what the kernel keeps for itself (its image, page structures,
        // reserved low memory): well over half of 256 MiB, never more than all of it.
        long memTotalKb = long.Parse(ready.Groups[3].Value);
        Assert.InRange(memTotalKb, MemoryMib * 1024L * 6 / 10, MemoryMib * 1024L);
        Assert.True(exitCode == 0, $"vmm exit {exitCode}\nstderr:\n{vmm.Stderr}");
        Assert.Contains("reason=poweroff exit=0", vmm.Stderr);
        Assert.DoesNotContain("VSWITCH-GUEST-POWEROFF-FAILED", serial);
    }
}
