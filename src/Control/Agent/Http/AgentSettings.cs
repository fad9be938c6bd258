// What `vswitch-agent run` was told (Cli/AgentCommandLine.cs, docs/agent.md "Running it").
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Agent.Validation;

namespace VSwitch.Control.Agent.Http;

/// <param name="Socket">The API's Unix socket.</param>
/// <param name="State">The SQLite file of the desired state.</param>
/// <param name="Group">A gid whose members may use the socket, besides root and the agent's user; it also owns the socket file.</param>
/// <param name="Host">What the host gives VMs.</param>
/// <param name="Reconcile">--host-settings: keep vswitchd running and serving the desired state; null: only store the state.</param>
/// <param name="MetricsListen">--metrics-listen: a TCP address that serves GET /metrics alone, for Prometheus; null: /metrics on the socket only.</param>
public sealed record AgentSettings(string Socket, string State, uint? Group, HostResources Host, ReconcileSettings? Reconcile = null,
    System.Net.IPEndPoint? MetricsListen = null);

/// <summary>The agent cannot start because of what it was given (exit 2): its socket is taken, its state file unusable.</summary>
public sealed class AgentStartException(string message, Exception? inner = null) : Exception(message, inner);
