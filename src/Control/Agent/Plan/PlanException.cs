// Why a plan cannot be compiled: a host setting or a stored resource that no daemon input can be
// made of. The message starts with the field ("runtime_dir: ..."), as every VSwitch error does,
// so the reconcile loop can log it as it is.
namespace VSwitch.Control.Agent.Plan;

public sealed class PlanException(string field, string problem) : Exception($"{field}: {problem}")
{
    public string Field { get; } = field;
}
