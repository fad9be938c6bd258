// vswitch-agent: the VSwitch host agent (docs/agent.md; Cli/AgentCommandLine.cs has the verbs).
using VSwitch.Control.Agent.Cli;

return await AgentCommandLine.InvokeAsync(args, Console.Out, Console.Error);
