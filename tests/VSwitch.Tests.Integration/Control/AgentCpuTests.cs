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
// also have been throttled (cpu.stat nr_throttled) in that time. Inside the guests, by steal
// time (KVM_FEATURE_STEAL_TIME: what the host says it took from the vCPU, spin.c's steal_ms each
// second), x must also get twice y's CPU time within 15 %, and each of x's and y's steal must be
// within 20 % of the CPU time everything else took (the window less its group's usage): the other
// VMs and the host's own processes, the sandbox's one CPU being shared by all. The guests' count
// of their loops is printed beside it, not asserted: under nested TCG a loop's cost swings
// tenfold from second to second (the translation cache, the timer), so a count is not CPU time
// there. They boot uncapped and equal
// because a guest capped at 20 % boots five times slower under TCG. The VMs' group weighs what
// its VMs weigh together (700), so the host's own processes do not squeeze them.
//
// Then, on the same spinning guests, the VMs' power (docs/agent.md, "Power"): z paused uses no
// CPU by its group's cpu.stat and its vmm says "paused", and resumed spins on; y stopped gets
// the ACPI power button, powers off and its vmm leaves (the group weight drops to 600); with x
// and z paused, y started boots again. Needs /dev/kvm and cgroup2 with the cpu controller (the
// KVM sandbox mounts it), so it runs in the KVM lane.
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

    [GeneratedRegex(@"^VSWITCH-SPIN t=(\d+) loops=(\d+) ran_ms=(\d+) steal_ms=(-?\d+)", RegexOptions.Multiline)]
    private static partial Regex Spin();

    private static Vm Spinner(string name) =>
        new(name, "red", Vcpus: 1, MemoryMib: 128, GuestImages.Kernel, GuestImages.Initramfs,
            $"reboot=k panic=-1 pci=off quiet vsw.nonce={name} vsw.spin_s={SpinSeconds} vsw.power_button=poweroff");

    private static string Group(string vm) => Path.Join(Cgroup.Mount, "vswitch", vm);

    /// <summary>A cpu.stat figure of the VM's group: usage_usec (its CPU time so far), nr_throttled (periods it ran out of quota).</summary>
    private static long CpuStat(string vm, string key) =>
        long.Parse(File.ReadLines(Path.Join(Group(vm), "cpu.stat")).First(l => l.StartsWith(key + " ", StringComparison.Ordinal))[(key.Length + 1)..]);

    private static long UsageUs(string vm) => CpuStat(vm, "usage_usec");

    /// <summary>Each second the guest spun through, by its t: (loops, ran_ms, steal_ms).</summary>
    private Dictionary<long, (long Loops, long RanMs, long StealMs)> Seconds(string vm) =>
        Spin().Matches(File.Exists(_host.VmmLog(vm)) ? File.ReadAllText(_host.VmmLog(vm)) : "")
            .ToDictionary(m => long.Parse(m.Groups[1].Value), m => (long.Parse(m.Groups[2].Value), long.Parse(m.Groups[3].Value), long.Parse(m.Groups[4].Value)));

    [Fact]
    public async Task Vms_get_cpu_time_by_their_weights_a_capped_vm_stays_under_its_cap_and_each_is_paused_stopped_and_started()
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
            && File.ReadAllText(Path.Join(Group("z"), "cpu.max")).Trim() == "20000 100000"
            && GroupWeight() == "700" ? "" : null), "the groups take the new weights and cap");
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
        Dictionary<long, (long Loops, long RanMs, long StealMs)> x = Seconds("x"), y = Seconds("y"), z = Seconds("z");
        long[] shared = [.. x.Keys.Intersect(y.Keys).Intersect(z.Keys).Where(t => t >= from && t <= to).Order()];
        string table = string.Join("\n", shared.Select(t => $"t={t} x={x[t]} y={y[t]} z={z[t]}"));
        TestContext.Current.TestOutputHelper?.WriteLine(table);
        Assert.True(shared.Length >= Measured / 2, $"the guests reported only {shared.Length} of the {Measured} measured seconds:\n{table}");

        double ratio = share[0] / share[1];
        long yLoops = shared.Sum(t => y[t].Loops);
        string loopRatio = yLoops > 0 ? $"{(double)shared.Sum(t => x[t].Loops) / yLoops:F2}x" : "(y counted no loops)";
        Assert.True(shared.All(t => x[t].StealMs >= 0 && y[t].StealMs >= 0), $"a guest could not read its steal time from /proc/stat:\n{table}");
        // By the guests' own books: a second's CPU time is the second less what the host stole.
        double[] stolen = [.. new[] { x, y, z }.Select(d => shared.Sum(t => d[t].StealMs) / (1000.0 * shared.Length))];
        double guestRatio = (1 - stolen[0]) / (1 - stolen[1]);
        string measured = $"over {clock.Elapsed.TotalSeconds:F1} s, x (weight 200) used {share[0]:P1} of the CPU and y (weight 100) {share[1]:P1}, " +
            $"{ratio:F2}x; z (weight 400, cap 20 %) {share[2]:P1}, throttled in {throttled} periods of 100 ms; inside the guests, by steal time, " +
            $"x got {1 - stolen[0]:P1} and y {1 - stolen[1]:P1}, {guestRatio:F2}x, and z {1 - stolen[2]:P1}; x ran {loopRatio} y's loops";
        TestContext.Current.SendDiagnosticMessage($"agent cpu: {measured}");
        Assert.True(guestRatio is >= 2 * 0.85 and <= 2 * 1.15, $"not 2x within 15 % inside the guests: {measured}\n{table}");
        // What was stolen from a VM is the CPU time everything else took while it waited to run.
        for (int i = 0; i < 2; i++)
        {
            double others = 1 - share[i];
            Assert.True(Math.Abs(stolen[i] - others) <= 0.2 * others,
                $"{vms[i]}'s steal, {stolen[i]:P1} of the time, is not within 20 % of the {others:P1} the others took: {measured}\n{table}");
        }
        Assert.True(ratio is >= 2 * 0.85 and <= 2 * 1.15, $"not 2x within 15 %: {measured}\n{table}");
        Assert.True(share[2] is >= 0.02 and <= 0.22, $"z not within 2..22 %: {measured}\n{table}");
        Assert.True(throttled > 0, $"z's cap never held it back: {measured}");

        await PowerAsync();
    }

    private static string GroupWeight() => File.ReadAllText(Path.Join(Cgroup.Mount, "vswitch", "cpu.weight")).Trim();

    private async Task SetPowerAsync(string vm, string state) => await _host.Api.PutAsync<VmPower, Vm>(Routes.VmPower(vm), new VmPower(state));

    /// <summary>Waits until the agent reports <paramref name="vm"/> <paramref name="power"/> (its vmm's answer at the agent's last pass).</summary>
    private Task<AgentStatus> ObservedAsync(string vm, string power) =>
        _host.EventuallyAsync(async () => await _host.StatusAsync() is { Vms.Power: { } observed } s && observed.GetValueOrDefault(vm) == power ? s : null,
            $"the agent reports VM {vm} {power}", s_step, VmmChildren.ChildName(vm));

    /// <summary>The CPU time <paramref name="vm"/>'s group uses in <paramref name="seconds"/> s of wall time, as a share of it.</summary>
    private static async Task<double> ShareAsync(string vm, int seconds)
    {
        long before = UsageUs(vm);
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds), TestContext.Current.CancellationToken);
        return (UsageUs(vm) - before) / clock.Elapsed.TotalMicroseconds;
    }

    private async Task PowerAsync()
    {
        var clock = Stopwatch.StartNew();
        await SetPowerAsync("z", PowerStates.Paused);
        await ObservedAsync("z", PowerStates.Paused);
        Assert.Equal(PowerStates.Paused, await _host.VmmStateAsync("z"));
        double paused = await ShareAsync("z", 5);
        await SetPowerAsync("z", PowerStates.Running);
        await ObservedAsync("z", PowerStates.Running);
        double resumed = await ShareAsync("z", 5);
        string shares = $"z used {paused:P1} of the CPU paused and {resumed:P1} resumed (capped at 20 %)";
        TestContext.Current.SendDiagnosticMessage($"agent power: {shares}; paused and resumed in {clock.Elapsed.TotalSeconds:F0} s");
        // A paused vmm's threads wait in the kernel; its vCPU runs nothing.
        Assert.True(paused < 0.01, $"a paused VM still ran: {shares}");
        Assert.True(resumed > 0.03, $"a resumed VM did not run again: {shares}");

        clock.Restart();
        int y = AgentHost.Child((await _host.StatusAsync())!, VmmChildren.ChildName("y"))!.Pid!.Value;
        await SetPowerAsync("y", PowerStates.Stopped);
        AgentStatus status = await ObservedAsync("y", PowerStates.Stopped);
        Assert.Null(AgentHost.Child(status, VmmChildren.ChildName("y")));
        Assert.True(AgentHost.Gone(y), $"y's vmm, pid {y}, still runs");
        // The guest's own word that it was asked, not killed: its init saw the power button.
        Assert.Contains("VSWITCH-POWER-BUTTON action=poweroff n=1", File.ReadAllText(_host.VmmLog("y")));
        Assert.Equal("600", GroupWeight());
        TestContext.Current.SendDiagnosticMessage($"agent power: y stopped by its power button in {clock.Elapsed.TotalSeconds:F0} s");

        // x and z paused: y boots as if alone.
        clock.Restart();
        await SetPowerAsync("x", PowerStates.Paused);
        await SetPowerAsync("z", PowerStates.Paused);
        await SetPowerAsync("y", PowerStates.Running);
        await _host.EventuallyAsync(() => Task.FromResult(File.ReadAllText(_host.VmmLog("y")).Split("VSWITCH-GUEST-READY nonce=y ").Length > 2 ? "" : null),
            "guest y boots again", s_step, VmmChildren.ChildName("y"));
        status = await ObservedAsync("y", PowerStates.Running);
        Assert.Equal(new Dictionary<string, string> { ["x"] = PowerStates.Paused, ["y"] = PowerStates.Running, ["z"] = PowerStates.Paused }, status.Vms!.Power);
        Assert.True(status.Vms.Converged, $"VMs: {string.Join("; ", status.Vms.Problems)}");
        TestContext.Current.SendDiagnosticMessage($"agent power: y started and booted again in {clock.Elapsed.TotalSeconds:F0} s");
    }

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
