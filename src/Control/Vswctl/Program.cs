// vswctl: the operator's CLI over the host agent's HTTP API (docs/vswctl.md).
using VSwitch.Control.Vswctl;

return await VswctlCommandLine.RunAsync(args, Console.Out, Console.Error, AgentConnection.Open,
    Environment.GetEnvironmentVariable(VswctlCommandLine.SocketEnvironmentVariable));
