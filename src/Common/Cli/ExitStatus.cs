// The exit status of every VSwitch program (vswitchd, vmm), so a script reads them all alike:
// 0 done, 1 failed while running (or a request the daemon refused), 2 bad input: a usage error, a
// bad configuration or spec, or a daemon that cannot be reached. A program adds its own codes above
// 2 (vmm: how the VM ended, Machine/StopReason.cs).
namespace VSwitch.Common.Cli;

public static class ExitStatus
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int BadInput = 2;
}
