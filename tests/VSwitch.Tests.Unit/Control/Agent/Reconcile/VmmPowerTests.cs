// A VM's power on its running vmm (Reconcile/VmmPower.cs), against fake vmm APIs (FakeVmms) that
// record the ops the agent sends and answer with their state as vmm does.
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Agent.Supervision;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Reconcile;

public sealed class VmmPowerTests : IAsyncDisposable
{
    private readonly FakeVmms _vmms = new();

    private RuntimePaths Paths => _vmms.Paths;

    private FakeVmmApi Serve(string vm, string state) => _vmms.Serve(vm, state);

    private static Vm Vm(string name, string power) => new(name, "red", 1, 256, "/k", Power: power);

    private static ChildStatus Child(string vm, ChildState state) =>
        new(VmmChildren.ChildName(vm), state, state == ChildState.Running ? 4242 : null, 1, false, null, null, null);

    private static DesiredState StateOf(params Vm[] vms) => new([new Tenant("red", 100)], vms, [], [], []);

    [Fact]
    public async Task Each_running_vmm_is_paused_or_resumed_to_its_vms_power_and_left_alone_when_it_is_there()
    {
        FakeVmmApi toPause = Serve("a", "running"), toResume = Serve("b", "paused"), asIs = Serve("c", "paused");

        (IReadOnlyDictionary<string, string> observed, IReadOnlyList<string> problems) = await new VmmPower(Paths).ConvergeAsync(
            StateOf(Vm("a", PowerStates.Paused), Vm("b", PowerStates.Running), Vm("c", PowerStates.Paused)),
            [Child("a", ChildState.Running), Child("b", ChildState.Running), Child("c", ChildState.Running)], TestContext.Current.CancellationToken);

        Assert.Empty(problems);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "paused", ["b"] = "running", ["c"] = "paused" }, observed);
        Assert.Equal(["state", "pause"], toPause.Ops);
        Assert.Equal(["state", "resume"], toResume.Ops);
        Assert.Equal(["state"], asIs.Ops);
    }

    [Fact]
    public async Task A_vm_without_a_running_vmm_is_reported_as_what_its_child_is_doing_and_only_a_paused_one_is_a_problem()
    {
        FakeVmmApi exiting = Serve("e", "stopped");

        (IReadOnlyDictionary<string, string> observed, IReadOnlyList<string> problems) = await new VmmPower(Paths).ConvergeAsync(
            StateOf(Vm("a", PowerStates.Stopped), Vm("b", PowerStates.Stopped), Vm("c", PowerStates.Paused), Vm("d", PowerStates.Running), Vm("e", PowerStates.Paused)),
            [Child("b", ChildState.Stopping), Child("c", ChildState.BackingOff), Child("d", ChildState.Running), Child("e", ChildState.Running)],
            TestContext.Current.CancellationToken);

        // a: no child; b: SIGTERM sent; c: restarting; d: started, its socket not up yet; e: the
        // guest powered off and its vmm is ending, which cannot be paused.
        Assert.Equal(new Dictionary<string, string> { ["a"] = "stopped", ["b"] = "stopping", ["c"] = "starting", ["d"] = "starting", ["e"] = "stopped" }, observed);
        Assert.Equal(2, problems.Count);
        Assert.StartsWith("VM 'c': not paused yet: its vmm is being started again", problems[0]);
        Assert.Equal("VM 'e': not paused yet: its vmm is stopped", problems[1]);
        Assert.Equal(["state"], exiting.Ops);
    }

    public ValueTask DisposeAsync() => _vmms.DisposeAsync();
}
