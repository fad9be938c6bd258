// vmm: one KVM virtual machine monitor process per VM (docs/vmm.md).
using VSwitch.Vmm.Cli;

return VmmCommandLine.Invoke(args, Console.Out, Console.Error);
