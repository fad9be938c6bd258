// vswitchd: the VSwitch dataplane (Cli/VswitchdCommandLine.cs has the verbs).
using VSwitch.Dataplane.Cli;

return await VswitchdCommandLine.InvokeAsync(args, Console.Out, Console.Error);
