// Linux guests on vmm with virtio-net NICs, joined by vswitchd over vhost-user: the whole path a
// tenant's packet takes (guest driver -> virtio-mmio -> vring in guest RAM -> vswitchd, with the
// kick by ioeventfd and the interrupt by irqfd), with the guests themselves reporting what they
// saw (tests/kvm/guest-vm/init, vsw.net=...). Needs /dev/kvm and the guest kernel's virtio
// modules, so it runs in the KVM lane (trait Lane=GuestKernel, tests/kvm/run-lane).
//
//   red:  a 02:..:01 10.0.0.1 (vh-a), b 02:..:02 10.0.0.2 (vh-b)
//   blue: c 02:..:02 10.0.0.2 (vh-c): b's MAC and address in another tenant
//
// a pings b and sends it 1 MiB over TCP; b prints the sha256 of what arrived, a of what it sent.
// c stays up until both are done (it waits for a line on its console, vmm's stdin) and then
// reports how many frames it received: none may be red's. The same test measures what the VMM
// is not doing meanwhile: its threads besides the vCPUs sleep, and an interrupt costs 2 exits.
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VSwitch.Tests.Integration.Infrastructure;
using VSwitch.Tests.Kvm.Vmm;
using Xunit;
using static VSwitch.Tests.Integration.Dataplane.RunningOverlayTests;

namespace VSwitch.Tests.Integration.Vmm;

[Trait("Lane", "GuestKernel")]
public sealed partial class GuestNetworkTests() : RunningVswitchd("guestnet", TimeSpan.FromSeconds(120))
{
    private const string IpA = "10.0.0.1", IpB = "10.0.0.2";
    private const int SendKb = 1024;
    /// <summary>Generous: three guests, vswitchd and .NET share one emulated CPU in the sandbox.</summary>
    private static readonly TimeSpan s_step = TimeSpan.FromSeconds(240);

    private string Socket(string vm) => Path.Combine(_dir, $"{vm}.sock");
    private string ApiSocket(string vm) => Path.Combine(_dir, $"{vm}-api.sock");

    // One CPU in the sandbox: EAL and the worker on core 0, sleeping when idle so the guests run.
    private VswitchdConfig Config => new(_prefix,
        [
            VswitchdPort.Vhost("vh-a", Socket("a"), mode: "client"),
            VswitchdPort.Vhost("vh-b", Socket("b"), mode: "client", queues: 2),
            VswitchdPort.Vhost("vh-c", Socket("c"), mode: "client"),
        ],
        [
            new("red", [new("a", "vh-a", MacA, [IpA]), new("b", "vh-b", MacB, [IpB])]),
            new("blue", [new("c", "vh-c", MacB, [IpB])]),
        ],
        WorkerCores: [0], EalCores: "0");

    public override async ValueTask InitializeAsync() => await StartAsync(Config);

    private VmmProcess StartGuest(string name, string mac, string parameters, int vcpus = 1, int queuePairs = 1)
    {
        string spec = Path.Combine(_dir, $"{name}.json");
        File.WriteAllText(spec, $$"""
            {"kernel": "{{GuestImages.Kernel}}", "initramfs": "{{GuestImages.Initramfs}}", "memory_mib": 256, "vcpus": {{vcpus}},
             "cmdline": "console=ttyS0 reboot=k panic=-1 pci=off quiet vsw.nonce={{name}} {{parameters}}",
             "nics": [{"socket": "{{Socket(name)}}", "mac": "{{mac}}", "queue_pairs": {{queuePairs}}}], "api_socket": "{{ApiSocket(name)}}"}
            """);
        return VmmProcess.Start("--spec", spec);
    }

    [GeneratedRegex(@"^VSWITCH-NET-UP mac=(\S+) mtu=(\d+) carrier_ms=(\d+) queues=(\d+)")]
    private static partial Regex NetUp();

    [GeneratedRegex(@"^VSWITCH-TCP-(SENT|RECEIVED) bytes=(\d+) sha256=([0-9a-f]{64})")]
    private static partial Regex Tcp();

    [GeneratedRegex(@"^VSWITCH-NET-STATS rx_packets=(\d+) tx_packets=(\d+) interrupts=(\d+)")]
    private static partial Regex Stats();

    /// <summary>
    /// Starts a guest and waits until its link is up with its MAC, MTU 1500 and its queue pairs.
    /// One guest boots at a time: three booting at once on the sandbox's one emulated CPU took
    /// 150 s to their links (2026-12-06), and once more than 240 s, where one alone takes about
    /// 20 s. Each wait then covers one boot, and a guest's peers are up before it talks to them.
    /// </summary>
    private VmmProcess StartWithLinkUp(string name, string mac, string parameters, int vcpus = 1, int queuePairs = 1)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        VmmProcess vm = StartGuest(name, mac, parameters, vcpus, queuePairs);
        try
        {
            Match up = WaitFor(vm, NetUp());
            Assert.Equal((mac, "1500", $"{queuePairs}"), (up.Groups[1].Value, up.Groups[2].Value, up.Groups[4].Value));
            TestContext.Current.SendDiagnosticMessage($"guest {name}: link up {clock.Elapsed.TotalSeconds:F0} s after its start");
            return vm;
        }
        catch
        {
            vm.Dispose();
            throw;
        }
    }

    private static Match WaitFor(VmmProcess vm, Regex line) =>
        line.Match(vm.WaitForSerialLine(l => line.IsMatch(l), s_step));

    private static Match WaitForTcp(VmmProcess vm, string direction) =>
        Tcp().Match(vm.WaitForSerialLine(l => l.StartsWith($"VSWITCH-TCP-{direction} ", StringComparison.Ordinal) && Tcp().IsMatch(l), s_step));

    [Fact]
    public async Task Two_guests_of_a_tenant_ping_and_move_a_megabyte_over_TCP_both_ways_and_a_guest_of_another_tenant_sees_none_of_it()
    {
        // All three wait on their consoles at the end, so their VMMs are still there to be measured.
        using VmmProcess c = StartWithLinkUp("c", MacB, $"vsw.net={IpB}/24 vsw.wait_input=1");
        // b has two vCPUs and two queue pairs: its driver turns the second pair on through the
        // control queue (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET), which the VMM passes to vswitchd as
        // SET_VRING_ENABLE.
        // b receives a's stream, then sends its own back to a.
        using VmmProcess b = StartWithLinkUp("b", MacB, $"vsw.net={IpB}/24 vsw.listen=1 vsw.peer={IpA} vsw.send_kb={SendKb} vsw.wait_input=1", vcpus: 2, queuePairs: 2);
        // a holds after its link is up, until the test has taken its first measurement; it sends, then receives.
        using VmmProcess a = StartWithLinkUp("a", MacA, $"vsw.net={IpA}/24 vsw.hold=1 vsw.peer={IpB} vsw.send_kb={SendKb} vsw.listen_after=1 vsw.wait_input=1");
        JsonNode vhB = (await Request("list"))["vhost_user"]!["vh-b"]!;
        Assert.True(vhB["guest_rx_queues"]!.AsArray().Count == 2, $"vswitchd's view of b's queues: {vhB.ToJsonString()}");
        // From a's release to the end of both transfers, count the packets through its port and what
        // the VMM's threads other than the vCPUs did meanwhile: with the kicks on ioeventfds, the
        // interrupts on irqfds and vswitchd on the rings, nothing there runs per packet.
        a.WaitForSerialLine(l => l == "VSWITCH-NET-HOLD", s_step);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var threadsBefore = a.NonVcpuThreads();
        ulong packetsBefore = await PortPackets("vh-a");
        a.ConsoleInput("go");
        Assert.Equal("3", a.WaitForSerialLine(l => l.StartsWith("VSWITCH-PING "), s_step).Split('=')[1]);
        foreach ((VmmProcess from, VmmProcess to) in new[] { (a, b), (b, a) })
        {
            Match sent = WaitForTcp(from, "SENT"), received = WaitForTcp(to, "RECEIVED");
            Assert.Equal($"{SendKb * 1024}", sent.Groups[2].Value);
            Assert.Equal((sent.Groups[2].Value, sent.Groups[3].Value), (received.Groups[2].Value, received.Groups[3].Value));
        }
        a.WaitForSerialLine(l => l == "VSWITCH-NET-WAITING", s_step);
        var threadsAfter = a.NonVcpuThreads();
        ulong packets = await PortPackets("vh-a") - packetsBefore;
        (long wakeups, long ticks, string woke) = VmmProcess.Since(threadsBefore, threadsAfter);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"a's vmm from its release to the end of both transfers ({clock.Elapsed.TotalSeconds:F1} s, {packets} packets through vh-a): " +
            $"its {threadsAfter.Count} threads besides the vCPU [{string.Join(", ", threadsAfter.Values.Select(t => t.Name))}] " +
            $"woke {wakeups} times ({(double)wakeups / packets:F4} per packet) [{woke}] and used {ticks * 10} ms of CPU");
        Assert.True(packets >= 1000, $"only {packets} packets through vh-a during two {SendKb} KiB transfers");
        Assert.True(wakeups * 100 < (long)packets, $"a's vmm threads besides the vCPU woke {wakeups} times for {packets} packets: {woke}");

        // Only now may c count: everything red sent has been sent.
        c.WaitForSerialLine(l => l == "VSWITCH-NET-WAITING", s_step);
        b.WaitForSerialLine(l => l == "VSWITCH-NET-WAITING", s_step);
        // What an interrupt cost a and b in exits to the VMM: Linux's vm_interrupt reads
        // InterruptStatus and writes InterruptACK, nothing more; and no kick of a data queue
        // (receiveq1, transmitq1, ...; the control queue is last) ever left KVM. The exits are
        // read from the running VMM before the guest counts its interrupts: the kernel counts an
        // interrupt before its handler runs, so every exit taken by then belongs to an interrupt
        // the guest's later count includes. (Counting the other way round raced: a frame arriving
        // after the guest's count added its 2 exits to the VMM's final figures alone.)
        var exits = new Dictionary<string, JsonElement>();
        foreach (string name in new[] { "a", "b" })
        {
            using var api = new VmmApiClient(ApiSocket(name));
            exits[name] = api.Call("""{"op":"stats"}""").GetProperty("nics")[0].GetProperty("mmio_exits");
        }
        var stats = new Dictionary<string, Match>();
        foreach ((string name, VmmProcess vm) in new[] { ("a", a), ("b", b), ("c", c) })
        {
            vm.ConsoleInput("done");
            stats[name] = WaitFor(vm, Stats());
            Assert.Equal(0, vm.WaitForExit(s_step));
        }
        // c's own link-up chatter reaches nobody and nothing reaches c: vswitchd's flood of red's
        // ARP and IPv6 stays in red, so c's receive count is 0.
        Assert.True(stats["c"].Groups[1].Value == "0", $"c received {stats["c"].Groups[1].Value} frames.\nserial:\n{c.Serial}");

        foreach ((string name, VmmProcess vm) in new[] { ("a", a), ("b", b) })
        {
            long interrupts = long.Parse(stats[name].Groups[3].Value);
            long statusReads = exits[name].GetProperty("interrupt_status_reads").GetInt64(), acks = exits[name].GetProperty("interrupt_acks").GetInt64();
            long[] notifies = [.. exits[name].GetProperty("queue_notifies").EnumerateArray().Select(n => n.GetInt64())];
            TestContext.Current.TestOutputHelper?.WriteLine($"{name}: vmm: statistics at exit {vm.Statistics().ToJsonString()}");
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"{name}: {interrupts} interrupts, {statusReads} InterruptStatus reads and {acks} ACKs: " +
                $"{(double)(statusReads + acks) / interrupts:F2} exits per interrupt; QueueNotify exits per queue [{string.Join(", ", notifies)}]; " +
                $"{stats[name].Groups[1].Value} frames received, {stats[name].Groups[2].Value} sent");
            Assert.True(interrupts > 0 && statusReads + acks <= 2 * interrupts, $"{name}: {statusReads} + {acks} exits for {interrupts} interrupts");
            Assert.Equal(new long[notifies.Length - 1], notifies[..^1]); // every queue but the last, the control queue
        }
    }

    private async Task<ulong> PortPackets(string port)
    {
        JsonNode counters = (await Request("counters"))["ports"]![port]!;
        return (ulong)counters["rx"]! + (ulong)counters["tx"]!;
    }

    [Fact]
    public async Task A_vswitchd_killed_in_the_middle_of_a_TCP_transfer_comes_back_and_the_transfer_completes_intact()
    {
        const int Kb = 2048;
        using VmmProcess b = StartWithLinkUp("b", MacB, $"vsw.net={IpB}/24 vsw.listen=1");
        using VmmProcess a = StartWithLinkUp("a", MacA, $"vsw.net={IpA}/24 vsw.peer={IpB} vsw.send_kb={Kb}");
        a.WaitForSerialLine(l => l.StartsWith("VSWITCH-PING "), s_step);

        // Some of the stream has crossed: kill vswitchd, then start a new one on the same config.
        try
        {
            await CountersAfter(200);
        }
        catch (TimeoutException e)
        {
            Assert.Fail($"{e.Message}\na's stderr:\n{a.Stderr}\na's serial:\n{a.Serial}\nb's serial:\n{b.Serial}");
        }
        await _vswitchd!.KillAsync();
        await _vswitchd.DisposeAsync();
        _vswitchd = null;
        await StartAsync(Config);

        Match sent, received;
        try
        {
            sent = WaitFor(a, Tcp());
            received = WaitFor(b, Tcp());
        }
        catch (Xunit.Sdk.FailException e)
        {
            // The message names one guest; a stall after a restart needs both, and what vswitchd saw.
            string counters = (await Request("counters")).ToJsonString();
            Assert.Fail($"{e.Message}\na's stderr:\n{a.Stderr}\nb's stderr:\n{b.Stderr}\nb's serial:\n{b.Serial}\nvswitchd's counters: {counters}\n{_vswitchd!.Log}");
            throw;
        }
        Assert.Equal($"{Kb * 1024}", received.Groups[2].Value);
        Assert.Equal(sent.Groups[3].Value, received.Groups[3].Value);
        foreach (VmmProcess vm in new[] { a, b })
            Assert.Equal(0, vm.WaitForExit(s_step));
    }
}
