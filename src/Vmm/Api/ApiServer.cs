// The VMM's API socket (docs/vmm.md, "API"): the daemons' shared control socket
// (Common/Control: framed JSON, {ok, id, error} envelope, ConnectionGate's limits) serving one
// VM's ops. The socket is 0600, created with the VM and removed when it stops, unless another
// VMM's socket has replaced it.
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using VSwitch.Common.Sockets;
using VSwitch.Vmm.Devices.Virtio.Block;
using VSwitch.Vmm.Devices.Virtio.Mmio;
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

            .Add("stop", async (request, _) =>
            {
                ControlOperations.OnlyFields(request, "stop", "timeout_s");
                TimeSpan timeout = StopTimeout(request);
                // Not cancelled when the server is disposed: that happens only once the VM has
                // stopped, which ends the wait anyway.
                GracefulStopResult result = await GracefulStop.RunAsync(machine, timeout).ConfigureAwait(false)
                    ?? throw new ControlException($"op: cannot stop a VM that is {StateName(machine.State)}");
                JsonObject reply = Reply(MachineState.Stopped);
                reply["reason"] = ExitCodes.Name(result.Outcome.Reason);
                reply["graceful"] = result.Graceful;
                reply["after_s"] = Math.Round(result.Elapsed.TotalSeconds, 3);
                return reply;
            })
            .Add("shutdown", (request, _) =>
            {
                ControlOperations.OnlyFields(request, "shutdown");
                machine.RequestStop(new VmOutcome(StopReason.Shutdown));
                // The vCPUs stop after the reply is sent; the state they will reach is the answer.
                return ValueTask.FromResult(Reply(MachineState.Stopped));
            })
            .Add("stats", (request, _) =>
            {
                ControlOperations.OnlyFields(request, "stats");
                return ValueTask.FromResult(AddStatistics(Reply(machine.State), machine.Statistics()));
            })
            .Add("metrics", (request, _) =>
            {
                ControlOperations.OnlyFields(request, "metrics");
                JsonObject reply = Reply(machine.State);
                reply["metrics"] = VmmMetrics.From(machine.Statistics());
                return ValueTask.FromResult(reply);
            });
    }

    /// <summary>A stop request's "timeout_s": whole seconds, 1 to <see cref="GracefulStop.MaxTimeoutSeconds"/>; without it the default.</summary>
    /// <exception cref="ControlException">The field is not such a number.</exception>
    internal static TimeSpan StopTimeout(JsonObject request)
    {
        JsonNode? field = request["timeout_s"];
        if (field is null)
            return GracefulStop.DefaultTimeout;
        if (field is not JsonValue value || value.GetValueKind() != JsonValueKind.Number || !value.TryGetValue(out int seconds))
            throw new ControlException($"timeout_s: must be a whole number of seconds (1..{GracefulStop.MaxTimeoutSeconds}), not {field.ToJsonString()}");
        if (seconds is < 1 or > GracefulStop.MaxTimeoutSeconds)
            throw new ControlException($"timeout_s: {seconds} is out of range (1..{GracefulStop.MaxTimeoutSeconds})");
        return TimeSpan.FromSeconds(seconds);
    }

    private static JsonObject Reply(MachineState state) => new() { ["state"] = StateName(state) };

    /// <summary>Adds the "stats" reply's fields to <paramref name="reply"/>; vmm prints the same when the VM stops (docs/vmm.md, "API").</summary>
    internal static JsonObject AddStatistics(JsonObject reply, VmStatistics stats)
    {
        reply["vcpus"] = new JsonArray([.. stats.VcpuExits.Select(exits => (JsonNode)new JsonObject
        {
            ["exits"] = new JsonObject([.. Enum.GetValues<VcpuExitKind>().Select(kind =>
                new KeyValuePair<string, JsonNode?>(ExitName(kind), exits[(int)kind]))]),
        })]);
        reply["nics"] = new JsonArray([.. stats.Nics.Select(nic => (JsonNode)new JsonObject { ["mmio_exits"] = MmioExits(nic) })]);
        reply["disks"] = new JsonArray([.. stats.Disks.Select(disk => (JsonNode)new JsonObject
        {
            ["id"] = disk.Id,
            ["requests"] = new JsonObject([.. Enum.GetValues<BlockOutcome>().Select(outcome =>
                new KeyValuePair<string, JsonNode?>(BlockOutcomeName(outcome), disk.Requests.Outcomes[(int)outcome]))]),
            ["read_bytes"] = disk.Requests.ReadBytes,
            ["written_bytes"] = disk.Requests.WrittenBytes,
            ["flushes"] = disk.Requests.Flushes,
            ["queue_requests"] = new JsonArray([.. disk.Requests.QueueRequests.Select(n => (JsonNode)n)]),
            ["mmio_exits"] = MmioExits(disk.Exits),
            ["nbd"] = disk.Network is { } network ? new JsonObject { ["reconnects"] = network.Reconnects, ["retries"] = network.Retries } : null,
        })]);
        return reply;
    }

    private static JsonObject MmioExits(MmioExitCounts exits) => new()
    {
        ["interrupt_status_reads"] = exits.InterruptStatusReads,
        ["interrupt_acks"] = exits.InterruptAcks,
        ["queue_notifies"] = new JsonArray([.. exits.QueueNotifies.Select(n => (JsonNode)n)]),
        ["other"] = exits.Other,
    };

    internal static string ExitName(VcpuExitKind kind) => kind switch
    {
        VcpuExitKind.PortIo => "port_io",
        VcpuExitKind.Mmio => "mmio",
        VcpuExitKind.Interrupted => "interrupted",
        _ => "other",
    };

    internal static string BlockOutcomeName(BlockOutcome outcome) => outcome switch
    {
        BlockOutcome.Ok => "ok",
        BlockOutcome.IoError => "io_error",
        BlockOutcome.OutOfRange => "out_of_range",
        BlockOutcome.Unaligned => "unaligned",
        BlockOutcome.ReadOnly => "read_only",
        BlockOutcome.Unsupported => "unsupported",
        BlockOutcome.Malformed => "malformed",
        _ => "no_status_byte",
    };

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
