// The host agent running real VMs (docs/agent.md, "VMs and volumes"): the built vswitch-agent
// with a vmm binary and a volume pool in its host settings boots one vmm per VM, each guest's NIC
// a vhost-user port of the vswitchd it also runs, its volume made in the pool; and it heals:
// vswitchd killed with SIGKILL, then a VMM, then the agent itself, and each comes back with no
// action but the kill. The guests (tests/kvm/guest-vm/init) report what they saw on their serial
// consoles, which the supervisor appends to LOG_DIR/vmm-NAME.log:
//
//   a  10.0.0.1, volume a-data: formats it and writes a file (or, booted again, reads it back:
//      vsw.disk=keep), pings b, sends b 64 KiB over TCP (retrying until b listens)
//   b  10.0.0.2: receives that stream, then pings a
//
// Needs /dev/kvm and the guest kernel's modules, so it runs in the KVM lane (trait
// Lane=GuestKernel, tests/kvm/run-lane), where one emulated CPU holds both guests and vswitchd.
using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Api;
using VSwitch.Tests.Integration.Infrastructure;
using VSwitch.Tests.Kvm.Vmm;
using VSwitch.Vmm.Volumes.Pool;
using Xunit;

namespace VSwitch.Tests.Integration.Control;

[Trait("Lane", "GuestKernel")]
public sealed partial class AgentGuestTests : IAsyncDisposable
{
    private const string MacA = "02:00:00:00:00:0a", MacB = "02:00:00:00:00:0b";
    private const string IpA = "10.0.0.1", IpB = "10.0.0.2";
    private const int SendKb = 64;
    /// <summary>
    /// Generous: two guests booting under TCG (18-40 s each alone), vswitchd and .NET share one
    /// emulated CPU in the sandbox, and the host's own lanes run beside the sandbox in the suite.
    /// The first boots took 101 s on a quiet host and 200 s beside builds (2026-12-08).
    /// </summary>
    private static readonly TimeSpan s_step = TimeSpan.FromSeconds(360);

    private readonly AgentHost _host = new("guests");

    private string Pool => Path.Combine(_host.Folder, "pool");

    [GeneratedRegex(@"^VSWITCH-DISK-(WRITTEN|READ) sha256=([0-9a-f]{64})", RegexOptions.Multiline)]
    private static partial Regex Disk();

    [GeneratedRegex(@"^VSWITCH-TCP-(SENT|RECEIVED) bytes=(\d+) sha256=([0-9a-f]{64})", RegexOptions.Multiline)]
    private static partial Regex Tcp();

    [GeneratedRegex(@"^VSWITCH-PING received=(\d+)", RegexOptions.Multiline)]
    private static partial Regex Ping();

    private static Vm Guest(string name, string mac, string ip, string parameters, params string[] volumes) =>
        new(name, "red", Vcpus: 1, MemoryMib: 256, GuestImages.Kernel, GuestImages.Initramfs,
            $"reboot=k panic=-1 pci=off quiet vsw.nonce={name} vsw.net={ip}/24 {parameters} vsw.power_button=poweroff",
            Nics: [new Nic(mac, [ip])], Volumes: volumes);

    /// <summary>The guest's console since the start of its <paramref name="boot"/>th boot (1: the first), once <paramref name="line"/> matches there.</summary>
    private Task<Match> GuestSaysAsync(string vm, int boot, Regex line, string what) =>
        _host.EventuallyAsync(() =>
        {
            string log = File.Exists(_host.VmmLog(vm)) ? File.ReadAllText(_host.VmmLog(vm)) : "";
            string[] boots = log.Split($"VSWITCH-GUEST-READY nonce={vm} ");
            Match? found = boots.Length > boot ? line.Match(boots[boot]) : null;
            return Task.FromResult(found is { Success: true } ? found : null);
        }, $"guest {vm}, boot {boot}: {what}", s_step, VmmChildren.ChildName(vm));

    /// <summary>The guest's ping of its peer in its <paramref name="boot"/>th boot answered all three times; else the host's state and both guests' consoles.</summary>
    private async Task AssertPingsAsync(string vm, int boot, string what)
    {
        string received = (await GuestSaysAsync(vm, boot, Ping(), what)).Groups[1].Value;
        if (received != "3")
            Assert.Fail($"guest {vm}, boot {boot}: {what}: {received} of 3 answered\n{await _host.DescribeAsync(VmmChildren.ChildName("a"), VmmChildren.ChildName("b"))}");
    }

    private Task<AgentStatus> ChildAsync(string child, Func<SupervisedChild, bool> state, string what) =>
        _host.EventuallyAsync(async () => await _host.StatusAsync() is { } s && AgentHost.Child(s, child) is { } c && state(c) ? s : null, what);

    private Task StartAgentAsync() => _host.StartAgentAsync(new JsonObject
    {
        // One CPU in the sandbox: EAL and the worker on core 0, sleeping when idle so the guests run.
        ["vswitchd"] = _host.Vswitchd(cores: "0"),
        ["vmm_binary"] = AgentHost.VmmBinary,
        ["vmm"] = new JsonObject { ["volume_pool"] = Pool },
    });

    private static void Kill(int pid)
    {
        using Process victim = Process.GetProcessById(pid);
        victim.Kill();
    }

    [Fact]
    public async Task The_agent_boots_its_vms_on_vswitchd_and_brings_each_daemon_back_after_kill_9_with_the_volume_data_kept()
    {
        VolumePool.Create(Pool, 256L << 20).Dispose();
        await StartAgentAsync();
        await _host.Api.CreateAsync(Routes.Tenants, new Tenant("red", 100));
        await _host.Api.CreateAsync(Routes.Volumes, new Volume("a-data", 64));
        // vswitchd first: its start compiles its workers' code, 45 s of the one emulated CPU in the
        // sandbox, which the guests' boots need more than this test needs the overlap.
        await _host.EventuallyAsync(async () => await _host.StatusAsync() is { Vswitchd.Converged: true } s ? s : null, "vswitchd starts and serves the tenant", s_step);
        var clock = Stopwatch.StartNew();
        await _host.Api.CreateAsync(Routes.Vms, Guest("b", MacB, IpB, $"vsw.listen=1 vsw.peer={IpA}"));
        await _host.Api.CreateAsync(Routes.Vms, Guest("a", MacA, IpA, $"vsw.disks=1 vsw.disk=keep vsw.peer={IpB} vsw.send_kb={SendKb}", "a-data"));

        // First boots: a writes its volume and sends; b receives what a sent and pings a.
        Match written = await GuestSaysAsync("a", 1, Disk(), "formats its volume and writes a file");
        Assert.Equal("WRITTEN", written.Groups[1].Value);
        Match sent = await GuestSaysAsync("a", 1, Tcp(), "sends b a stream over TCP");
        Match received = await GuestSaysAsync("b", 1, Tcp(), "receives a's stream");
        Assert.Equal(("SENT", $"{SendKb * 1024}"), (sent.Groups[1].Value, sent.Groups[2].Value));
        Assert.Equal(("RECEIVED", sent.Groups[2].Value, sent.Groups[3].Value), (received.Groups[1].Value, received.Groups[2].Value, received.Groups[3].Value));
        await AssertPingsAsync("b", 1, "pings a");
        TestContext.Current.SendDiagnosticMessage($"agent guests: both booted and talked {clock.Elapsed.TotalSeconds:F0} s after their create");

        // The agent's /metrics carries each running vmm's own figures, labelled with its VM.
        string metrics = await _host.Api.GetTextAsync(Routes.Metrics);
        double Sample(string series) => Regex.Match(metrics, $"^{Regex.Escape(series)} (\\S+)$", RegexOptions.Multiline) is { Success: true } m
            ? double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
            : throw new Xunit.Sdk.XunitException($"no sample {series} in the agent's /metrics:\n{metrics}");
        Assert.Equal((1, 1), (Sample("vswitch_agent_vmm_up{vm=\"a\"}"), Sample("vswitch_agent_vmm_up{vm=\"b\"}")));
        // a made ext4 and wrote a 1 MiB file on its volume; both guests ran.
        Assert.True(Sample("vmm_disk_written_bytes_total{vm=\"a\",disk=\"a-data\"}") >= 1 << 20, metrics);
        Assert.True(Sample("vmm_vcpu_run_seconds_total{vm=\"a\",vcpu=\"0\"}") > 0 && Sample("vmm_vcpu_run_seconds_total{vm=\"b\",vcpu=\"0\"}") > 0, metrics);

        AgentStatus status = (await _host.StatusAsync())!;
        Assert.True(status.Vms is { Converged: true }, $"VMs: {string.Join("; ", status.Vms?.Problems ?? [])}");
        int vswitchd = AgentHost.Child(status, HostReconciler.VswitchdChild)!.Pid!.Value;
        int vmmA = AgentHost.Child(status, VmmChildren.ChildName("a"))!.Pid!.Value;
        int vmmB = AgentHost.Child(status, VmmChildren.ChildName("b"))!.Pid!.Value;

        // kill -9 vswitchd: the supervisor starts it again, which connects to both VMs' sockets again.
        clock.Restart();
        Kill(vswitchd);
        status = await ChildAsync(HostReconciler.VswitchdChild, c => c is { State: "running", StartCount: 2 }, "the supervisor restarts vswitchd");
        vswitchd = AgentHost.Child(status, HostReconciler.VswitchdChild)!.Pid!.Value;
        await _host.EventuallyAsync(async () => await _host.StatusAsync() is { Vswitchd.Converged: true } s ? s : null, "vswitchd serves the desired state again");

        // kill -9 a's vmm: it boots again on the same volume, reads back what it wrote, and reaches
        // b, which has run on untouched, through the new vswitchd.
        Kill(vmmA);
        Match read = await GuestSaysAsync("a", 2, Disk(), "boots again and reads its volume back");
        Assert.Equal(("READ", written.Groups[2].Value), (read.Groups[1].Value, read.Groups[2].Value));
        await AssertPingsAsync("a", 2, "pings b");
        status = (await _host.StatusAsync())!;
        Assert.Equal(2, AgentHost.Child(status, VmmChildren.ChildName("a"))!.StartCount);
        Assert.Equal((vmmB, 1), (AgentHost.Child(status, VmmChildren.ChildName("b"))!.Pid, AgentHost.Child(status, VmmChildren.ChildName("b"))!.StartCount));
        vmmA = AgentHost.Child(status, VmmChildren.ChildName("a"))!.Pid!.Value;
        TestContext.Current.SendDiagnosticMessage($"agent guests: vswitchd and a's vmm killed and back, a talking again, in {clock.Elapsed.TotalSeconds:F0} s");

        // kill -9 the agent: the next one adopts vswitchd and both VMMs, starting no second one.
        clock.Restart();
        await _host.EndAgentAsync(kill: true);
        await StartAgentAsync();
        status = await _host.EventuallyAsync(async () => await _host.StatusAsync() is { Vswitchd.Converged: true, Vms.Converged: true } s ? s : null,
            "the restarted agent finds everything converged");
        foreach ((string child, int pid) in new[] { (HostReconciler.VswitchdChild, vswitchd), (VmmChildren.ChildName("a"), vmmA), (VmmChildren.ChildName("b"), vmmB) })
            Assert.Equal((child, pid, true), (child, AgentHost.Child(status, child)!.Pid!.Value, AgentHost.Child(status, child)!.Adopted));

        TestContext.Current.SendDiagnosticMessage($"agent guests: the agent killed, and its successor converged on the adopted daemons, in {clock.Elapsed.TotalSeconds:F0} s");

        // Deleting b stops its vmm and removes its port; a runs on.
        clock.Restart();
        await _host.Api.DeleteAsync(Routes.Vms, "b");
        await _host.EventuallyAsync(async () => await _host.StatusAsync() is { } s && AgentHost.Child(s, VmmChildren.ChildName("b")) is null
            && await _host.ListAsync() is { } list && !list["ports"]!.AsArray().Any(p => (string?)p!["name"] == "b.nic0") ? s : null,
            "b's vmm stops and its port leaves vswitchd");
        Assert.True(AgentHost.Gone(vmmB), $"b's vmm, pid {vmmB}, still runs");
        Assert.Equal(vmmA, AgentHost.Child((await _host.StatusAsync())!, VmmChildren.ChildName("a"))!.Pid);
        TestContext.Current.SendDiagnosticMessage($"agent guests: b deleted, its vmm stopped and its port gone, in {clock.Elapsed.TotalSeconds:F0} s");
    }

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
