// A Linux guest on a vhost-user port: Debian's QEMU (TCG, no KVM needed) boots the stock Debian
// kernel with a virtio-net NIC whose backend is vswitchd, on memfd memory shared with it
// (../shared/vhost-user.md: vectors=0 on virtio-net-pci, QEMU 7.2 crashes on vhost-user-net
// with MSI-X under TCG). The guest's init (tests/vhost-guest/init) pings a testpmd VM that
// answers echo requests (icmpecho, on its own vhost-user port) and a network-namespace VM on an
// af_packet port, and reports what it saw on its serial console.
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;

namespace VSwitch.Tests.Integration.SystemTests;

public sealed partial class VhostLinuxGuestTests() : RunningVswitchd("vhostlinux", TimeSpan.FromSeconds(60))
{
    private const string MacG = "02:00:00:00:03:10", IpG = "10.0.3.10";
    private const string MacT = "02:00:00:00:03:11", IpT = "10.0.3.11";
    private const string MacN = "02:00:00:00:03:12", IpN = "10.0.3.12";
    /// <summary>TCG boots the kernel in 5 to 10 s on these machines; the pings take a few more.</summary>
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);

    private readonly Endpoint _netnsVm = new("vhl-n", "red", "vn", "vm-n", 0, MacN, IpN);
    private string Socket(string port) => Path.Combine(_dir, $"{port}.sock");

    public override async ValueTask InitializeAsync()
    {
        await Prerequisites.RequireRootAndToolsAsync("a Linux guest on vhost-user", Prerequisites.NetworkTestTools);
        await NetworkNamespace.DeleteAsync($"vhl{Environment.ProcessId}");
        await SystemTopology.CreateVmAsync(_netnsVm, $"vhl{Environment.ProcessId}", null, 1500);
        await StartAsync(new VswitchdConfig(_prefix,
            [VswitchdPort.Vhost("vh-g", Socket("vh-g")), VswitchdPort.Vhost("vh-t", Socket("vh-t")), new("vm-n", _netnsVm.Devargs)],
            [new("red", [new("g", "vh-g", MacG, [IpG]), new("t", "vh-t", MacT, [IpT]), new("n", "vm-n", MacN, [IpN])])]));
    }

    [Fact]
    public async Task A_Linux_guest_pings_a_testpmd_VM_and_a_namespace_VM_through_vswitchd()
    {
        try
        {
            await using TestpmdVm t = await TestpmdVm.StartAsync("t", Socket("vh-t"), MacT, IpT, MacG, IpG, forwardMode: "icmpecho");
            await t.StartForwardingAsync();
            string initramfs = Path.Combine(_dir, "guest.cpio.gz");
            ProcessResult build = await ProcessRunner.RunCheckedAsync(Path.Combine(RepoPaths.Root, "tests", "vhost-guest", "build"), [initramfs],
                TimeSpan.FromMinutes(5));
            string kernel = build.Stdout.Trim().Split('\n')[^1];

            await using BackgroundProcess guest = BackgroundProcess.Start("qemu-guest", "qemu-system-x86_64",
            [
                "-M", "pc", "-accel", "tcg", "-m", "512", "-smp", "1", "-nodefaults", "-display", "none", "-monitor", "none",
                "-serial", "stdio", "-no-reboot", "-kernel", kernel, "-initrd", initramfs,
                "-append", $"console=ttyS0 quiet panic=-1 vsw.ip={IpG}/24 vsw.ping={IpT},{IpN}",
                "-object", "memory-backend-memfd,id=mem,size=512M,share=on", "-numa", "node,memdev=mem",
                "-chardev", $"socket,id=char0,path={Socket("vh-g")}", "-netdev", "type=vhost-user,id=net0,chardev=char0",
                "-device", $"virtio-net-pci,netdev=net0,mac={MacG},vectors=0,romfile=",
            ]);
            await guest.WaitForLineAsync(line => line.Contains("VSW-DONE"), GuestTimeout, "the guest's VSW-DONE");
            await guest.WaitForExitAsync(TimeSpan.FromSeconds(30), throwOnTimeout: false, TestContext.Current.CancellationToken);

            string console = guest.Stdout;
            var pings = PingLine().Matches(console).ToDictionary(m => m.Groups[1].Value, m => (int.Parse(m.Groups[2].Value), int.Parse(m.Groups[3].Value)));
            TestContext.Current.TestOutputHelper?.WriteLine(string.Join('\n', console.Split('\n').Where(l => l.StartsWith("VSW"))));
            JsonObject counters = await Request("counters");
            string facts = $"guest console:\n{console}\nvswitchd: {counters.ToJsonString()}";
            Assert.True(pings.GetValueOrDefault(IpT) == (3, 3), $"ping to the testpmd VM: {facts}");
            Assert.True(pings.GetValueOrDefault(IpN) == (3, 3), $"ping to the namespace VM: {facts}");
            JsonObject drops = counters["drops"]!.AsObject();
            foreach (string reason in (string[])["spoofed_source_mac", "spoofed_ipv4_source", "spoofed_arp_sender", "multi_segment", "guest_rx_ring_full"])
                Assert.True((ulong)drops[reason]! == 0, $"{reason}: {facts}");
            Assert.True((ulong)counters["arp_replies"]! >= 2, $"vswitchd answered the guest's ARP for both: {facts}");
            Assert.True((ulong)counters["ports"]!["vh-g"]!["rx"]! >= 8, facts);
            Assert.Equal(0, (long)counters["workers"]![0]!["allocated_bytes"]!);
        }
        finally
        {
            await NetworkNamespace.DeleteAsync($"vhl{Environment.ProcessId}");
        }
    }

    [GeneratedRegex(@"VSW-PING (\S+) (\d+) (\d+)")]
    private static partial Regex PingLine();
}
