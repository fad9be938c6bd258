// A VM's power state (docs/agent.md, "Power") on its running vmm. Running and stopped are the
// supervisor's to keep (a stopped VM has no vmm child: VmmChildren leaves it out, and the
// supervisor's SIGTERM presses the guest's power button); paused is a state inside a running vmm,
// so each pass asks every VM's vmm for its state over its API socket (docs/vmm.md, "API") and
// sends `pause` or `resume` where it differs from the desired one. Both ops are idempotent, and
// the vmm's own answer is the truth: a vmm restarted after a crash, or paused by hand with
// `vmm ctl`, is brought back to the desired state like any other drift. The answers also give
// /v1/status each VM's observed power.
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Supervision;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Reconcile;

public sealed class VmmPower(RuntimePaths paths)
{
    /// <summary>A vmm answers its API in milliseconds; one that does not within this is reported, not waited for.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>What each VM is doing (by name), and why each VM that is not as desired is not, one line per VM.</summary>
    public async Task<(IReadOnlyDictionary<string, string> Observed, IReadOnlyList<string> Problems)> ConvergeAsync(
        DesiredState state, IReadOnlyList<ChildStatus> children, CancellationToken ct)
    {
        Dictionary<string, ChildStatus> byName = children.ToDictionary(c => c.Name, StringComparer.Ordinal);
        (string Vm, string Observed, string? Problem)[] outcomes = await Task.WhenAll(state.Vms.Select(vm =>
            ConvergeAsync(vm, byName.GetValueOrDefault(VmmChildren.ChildName(vm.Name)), ct)));
        return (outcomes.ToDictionary(o => o.Vm, o => o.Observed, StringComparer.Ordinal),
            [.. outcomes.Where(o => o.Problem is not null).Select(o => $"VM '{o.Vm}': {o.Problem}")]);
    }

    private async Task<(string Vm, string Observed, string? Problem)> ConvergeAsync(Vm vm, ChildStatus? child, CancellationToken ct)
    {
        switch (child?.State)
        {
            case null:
                // No child: stopped as asked, or a VM VmmChildren could not start (it says why).
                return (vm.Name, PowerStates.Stopped, null);
            case ChildState.Stopping:
                return (vm.Name, "stopping", null);
            case ChildState.BackingOff:
                return (vm.Name, "starting", vm.Power == PowerStates.Paused ? "not paused yet: its vmm is being started again" : null);
        }
        if (vm.Power == PowerStates.Stopped)
            return (vm.Name, "stopping", null);
        try
        {
            string observed = await ControlClient.WithinAsync(RequestTimeout, async token =>
            {
                await using ControlClient client = await ControlClient.ConnectAsync(paths.ApiSocket(vm.Name), token);
                string now = await StateAsync(client, "state", token);
                string? op = (vm.Power, now) switch
                {
                    (PowerStates.Paused, PowerStates.Running) => "pause",
                    (PowerStates.Running, PowerStates.Paused) => "resume",
                    _ => null,
                };
                return op is null ? now : await StateAsync(client, op, token);
            }, ct);
            // "created": the vmm is still building its VM; "stopped": the guest powered off and the
            // vmm is ending, to be started again by the supervisor.
            return (vm.Name, observed, vm.Power == PowerStates.Paused && observed != PowerStates.Paused ? $"not paused yet: its vmm is {observed}" : null);
        }
        catch (TimeoutException)
        {
            return (vm.Name, "unknown", $"its vmm did not answer on {paths.ApiSocket(vm.Name)} within {RequestTimeout.TotalSeconds} s");
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
        {
            // A vmm just started has not opened its socket yet: it runs, as a new vmm does.
            return (vm.Name, "starting", vm.Power == PowerStates.Paused ? $"not paused yet: its vmm's API socket does not answer ({e.Message})" : null);
        }
        catch (Exception e) when (e is ControlProtocolException or ControlRequestFailedException or InvalidDataException)
        {
            return (vm.Name, "unknown", $"its vmm on {paths.ApiSocket(vm.Name)}: {e.Message}");
        }
    }

    private static async Task<string> StateAsync(ControlClient client, string op, CancellationToken ct)
    {
        JsonObject reply = await client.RequestAsync(new JsonObject { ["op"] = op }, ct);
        return (string?)reply["state"] ?? throw new InvalidDataException($"its answer to '{op}' has no state: {reply.ToJsonString()}");
    }
}
