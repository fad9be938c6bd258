// The VMM's API socket (docs/vmm.md, "API"): the daemons' shared control socket
// (Common/Control: framed JSON, {ok, id, error} envelope, ConnectionGate's limits) serving one
// VM's ops. The socket is 0600, created with the VM and removed when it stops, unless another
// VMM's socket has replaced it.
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using VSwitch.Common.Sockets;
using VSwitch.Vmm.Machine;

namespace VSwitch.Vmm.Api;

public sealed class ApiServer : IDisposable
{
    private readonly ControlServer _server;

    private ApiServer(ControlServer server) => _server = server;

    /// <summary>Connections being served now.</summary>
    public int Connections => _server.Connections;

    /// <summary>
    /// Refuses a path another process is listening on, or that is not a socket; a socket a
    /// killed VMM left behind is fine (Start replaces it).
    /// </summary>
    /// <exception cref="IOException">The path is in use or is not a socket.</exception>
    public static void ThrowIfInUse(string path)
    {
        if (SocketPath.Probe(path) == SocketPathState.Listening)
            throw new IOException($"another process is listening on {path}; not replacing it (is another VMM using this --api-socket?)");
    }

    /// <summary>Binds <paramref name="path"/> (replacing only a stale socket) with mode 0600 and starts serving.</summary>
    /// <exception cref="IOException">The path is in use, is not a socket, or binding fails.</exception>
    public static ApiServer Start(IApiMachine machine, string path, ConnectionLimits? limits = null)
    {
        ThrowIfInUse(path);
        var options = new ControlServerOptions("vmm")
        {
            SocketMode = ControlServerOptions.OwnerOnly,
            Limits = limits ?? ConnectionLimits.Default,
        };
        return new ApiServer(ControlServer.Start(path, Operations(machine), options));
    }

    /// <summary>The API's ops, in the order docs/vmm.md lists them; each answers with the VM's state after it.</summary>
    internal static ControlOperations Operations(IApiMachine machine)
    {
        // Pause and resume block until the vCPUs have parked or left; that is milliseconds.
        ControlOperation Change(string op, Func<bool> change) => (request, _) =>
        {
            ControlOperations.OnlyFields(request, op);
            return change() ? ValueTask.FromResult(Reply(machine.State))
                : throw new ControlException($"op: cannot {op} a VM that is {StateName(machine.State)}");
        };
        return new ControlOperations()
            .Add("state", Change("state", () => true))
            .Add("pause", Change("pause", machine.Pause))
            .Add("resume", Change("resume", machine.Resume))
            .Add("shutdown", (request, _) =>
            {
                ControlOperations.OnlyFields(request, "shutdown");
                machine.RequestStop(new VmOutcome(StopReason.Shutdown));
                // The vCPUs stop after the reply is sent; the state they will reach is the answer.
                return ValueTask.FromResult(Reply(MachineState.Stopped));
            });
    }

    private static JsonObject Reply(MachineState state) => new() { ["state"] = StateName(state) };

    internal static string StateName(MachineState state) => state switch
    {
        MachineState.Created => "created",
        MachineState.Running => "running",
        MachineState.Paused => "paused",
        _ => "stopped",
    };

    /// <summary>Stops serving (a reply in flight, "shutdown"'s among them, still goes out) and removes the socket.</summary>
    public void Dispose() => _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
