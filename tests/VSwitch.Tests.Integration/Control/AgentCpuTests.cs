// The host agent's CPU control (docs/agent.md, "CPU"): each VM's vmm in a cgroup v2 group of its
// own with the VM's cpu_weight and cpu_max_percent, changed while the VMs run. Three guests
// busy-loop on the sandbox's one CPU (tests/kvm/guest-vm/spin.c says each second how many loops
// the guest ran); once all three spin, the test gives them
//
//   x  cpu_weight 200       y  cpu_weight 100       z  cpu_weight 400, cpu_max_percent 20
//
// through PUT /v1/vms/NAME/cpu (each guest boots alone first, see below), and x must then get twice y's CPU time (within 15 %) and z at most
// 22 % of the CPU, by their groups' cpu.stat over the same 20 s. z's weight alone would give it
// more than 20 % (four sevenths of what the VMs get), so the cap is what holds it: its group must
// also have been throttled (cpu.stat nr_throttled) in that time. The guests' own count of their
// loops is printed beside it, not asserted: under nested TCG a loop's cost swings tenfold from
// second to second (the translation cache, the timer), so a count is not CPU time there. They boot uncapped and equal
// because a guest capped at 20 % boots five times slower under TCG. Needs /dev/kvm and cgroup2
// with the cpu controller (the KVM sandbox mounts it), so it runs in the KVM lane.
using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VSwitch.Common.Cgroups;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Api;
using VSwitch.Tests.Integration.Infrastructure;
using VSwitch.Tests.Kvm.Vmm;
using Xunit;

namespace VSwitch.Tests.Integration.Control;

[Trait("Lane", "GuestKernel")]
public sealed partial class AgentCpuTests : IAsyncDisposable
{
    /// <summary>Longer than the test: the guests spin until it ends them.</summary>
    private const int SpinSeconds = 3600;
    /// <summary>Seconds measured with the new weights and cap, after a few for the scheduler to settle.</summary>
    private const int Measured = 20, Settle = 3;
    private static readonly TimeSpan s_step = TimeSpan.FromSeconds(300);

    private readonly AgentHost _host = new("cpu");

    [GeneratedRegex(@"^VSWITCH-SPIN t=(\d+) loops=(\d+) ran_ms=(\d+)", RegexOptions.Multiline)]
    private static partial Regex Spin();

    private static Vm Spinner(string name) =>
        new(name, "red", Vcpus: 1, MemoryMib: 128, GuestImages.Kernel, GuestImages.Initramfs,
            $"reboot=k panic=-1 pci=off quiet vsw.nonce={name} vsw.spin_s={SpinSeconds} vsw.power_button=poweroff");

    private static string Group(string vm) => Path.Join(Cgroup.Mount, "vswitch", vm);

    /// <summary>A cpu.stat figure of the VM's group: usage_usec (its CPU time so far), nr_throttled (periods it ran out of quota).</summary>
    private static long CpuStat(string vm, string key) =>
        long.Parse(File.ReadLines(Path.Join(Group(vm), "cpu.stat")).First(l => l.StartsWith(key + " ", StringComparison.Ordinal))[(key.Length + 1)..]);

    private static long UsageUs(string vm) => CpuStat(vm, "usage_usec");

    /// <summary>Each second the guest spun through, by its t: (loops, ran_ms).</summary>
    private Dictionary<long, (long Loops, long RanMs)> Seconds(string vm) =>
        Spin().Matches(File.Exists(_host.VmmLog(vm)) ? File.ReadAllText(_host.VmmLog(vm)) : "")
            .ToDictionary(m => long.Parse(m.Groups[1].Value), m => (long.Parse(m.Groups[2].Value), long.Parse(m.Groups[3].Value)));

    [Fact]
    public async Task Vms_get_cpu_time_by_their_weights_and_a_capped_vm_stays_under_its_cap()
    {
        IReadOnlySet<string> controllers = Cgroup.Controllers(Cgroup.Mount);
        Assert.True(controllers.Contains("cpu") && controllers.Contains("cpuset"),
            $"{Cgroup.Mount} has no cgroup v2 cpu and cpuset controllers (cgroup.controllers: '{string.Join(' ', controllers)}'): " +
            "the KVM sandbox mounts cgroup2 there (tests/kvm/guest/init); on a host with hardware KVM, boot it with systemd.unified_cgroup_hierarchy=1");
        await _host.StartAgentAsync(new JsonObject
        {
            ["vswitchd"] = _host.Vswitchd(cores: "0"),
            ["vmm_binary"] = AgentHost.VmmBinary,
        });
        await _host.Api.CreateAsync(Routes.Tenants, new Tenant("red", 100));
        string[] vms = ["x", "y", "z"];
        // One at a time: each guest spins as soon as it has booted, so it is given the least
        // weight (1) once it does, and the next one boots as if alone (18-40 s under TCG, where
        // three booting beside spinners took over 300 s).
        foreach (string vm in vms)
        {
            await _host.Api.CreateAsync(Routes.Vms, Spinner(vm));
            await _host.EventuallyAsync(() => Task.FromResult(Seconds(vm).Count > 0 ? "" : null), $"guest {vm} boots and spins", s_step, VmmChildren.ChildName(vm));
            await _host.Api.PutAsync<VmCpu, Vm>(Routes.VmCpu(vm), new VmCpu(CpuWeight: 1));
        }

        // Each vmm in its own group.
        AgentStatus status = (await _host.StatusAsync())!;
        foreach (string vm in vms)
            Assert.Equal(Group(vm), Cgroup.Of(AgentHost.Child(status, VmmChildren.ChildName(vm))!.Pid!.Value));

        // The weights and the cap under test, live: the groups follow without a restart.
        await _host.Api.PutAsync<VmCpu, Vm>(Routes.VmCpu("x"), new VmCpu(CpuWeight: 200));
        await _host.Api.PutAsync<VmCpu, Vm>(Routes.VmCpu("y"), new VmCpu(CpuWeight: 100));
        await _host.Api.PutAsync<VmCpu, Vm>(Routes.VmCpu("z"), new VmCpu(CpuWeight: 400, CpuMaxPercent: 20));
        await _host.EventuallyAsync(() => Task.FromResult(File.ReadAllText(Path.Join(Group("x"), "cpu.weight")).Trim() == "200"
            && File.ReadAllText(Path.Join(Group("y"), "cpu.weight")).Trim() == "100"
            && File.ReadAllText(Path.Join(Group("z"), "cpu.max")).Trim() == "20000 100000" ? "" : null), "the groups take the new weights and cap");
        Assert.Equal("max 100000", File.ReadAllText(Path.Join(Group("y"), "cpu.max")).Trim());
        await Task.Delay(TimeSpan.FromSeconds(Settle), TestContext.Current.CancellationToken);

        long from = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1;
        long[] before = [.. vms.Select(UsageUs)];
        long throttledBefore = CpuStat("z", "nr_throttled");
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(Measured), TestContext.Current.CancellationToken);
        double[] share = [.. vms.Select((vm, i) => (UsageUs(vm) - before[i]) / clock.Elapsed.TotalMicroseconds)];
        long throttled = CpuStat("z", "nr_throttled") - throttledBefore;
        long to = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1;
        // The guests report by their own clocks, set from the host's at boot: a second either way.
        await _host.EventuallyAsync(() => Task.FromResult(vms.All(vm => Seconds(vm).Keys.Any(t => t > to)) ? "" : null), "the guests report the measured seconds");
        Dictionary<long, (long Loops, long RanMs)> x = Seconds("x"), y = Seconds("y"), z = Seconds("z");
        long[] shared = [.. x.Keys.Intersect(y.Keys).Intersect(z.Keys).Where(t => t >= from && t <= to).Order()];
        string table = string.Join("\n", shared.Select(t => $"t={t} x={x[t]} y={y[t]} z={z[t]}"));
        TestContext.Current.TestOutputHelper?.WriteLine(table);
        Assert.True(shared.Length >= Measured / 2, $"the guests reported only {shared.Length} of the {Measured} measured seconds:\n{table}");

        double ratio = share[0] / share[1];
        long yLoops = shared.Sum(t => y[t].Loops);
        string loopRatio = yLoops > 0 ? $"{(double)shared.Sum(t => x[t].Loops) / yLoops:F2}x" : "(y counted no loops)";
        string measured = $"over {clock.Elapsed.TotalSeconds:F1} s, x (weight 200) used {share[0]:P1} of the CPU and y (weight 100) {share[1]:P1}, " +
            $"{ratio:F2}x; z (weight 400, cap 20 %) {share[2]:P1}, throttled in {throttled} periods of 100 ms; inside the guests, x ran {loopRatio} y's loops";
        TestContext.Current.SendDiagnosticMessage($"agent cpu: {measured}");
        Assert.True(ratio is >= 2 * 0.85 and <= 2 * 1.15, $"not 2x within 15 %: {measured}\n{table}");
        Assert.True(share[2] is >= 0.02 and <= 0.22, $"z not within 2..22 %: {measured}\n{table}");
        Assert.True(throttled > 0, $"z's cap never held it back: {measured}");
    }

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
