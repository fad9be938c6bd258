// The control socket's request path without the socket: the bytes a client sends are split into
// frames by the server's FrameReader, each message goes through the server's envelope checks
// (a JSON object with a string "op", its "id" echoed back), and the change ops read their fields
// with the daemon's ControlRequests readers (the config file's) and validate the resulting spec, as Vswitchd.Change does
// before it touches DPDK. The input is the byte stream of one connection.
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Daemon;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Fuzz.Targets;

public static class ControlMessageTarget
{
    private static readonly SwitchSpec s_spec = Topology.Tables.Spec;

    public static void Run(ReadOnlySpan<byte> input)
    {
        var frames = new FrameReader(PipeReader.Create(new MemoryStream(input.ToArray())));
        while (true)
        {
            // A MemoryStream completes every read synchronously.
            Frame frame = frames.ReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
            switch (frame.Kind)
            {
                case FrameKind.End:
                    return;
                case FrameKind.Truncated or FrameKind.Oversize:
                    Invariants.Check(!string.IsNullOrWhiteSpace(frame.Error), $"a {frame.Kind} frame without an error");
                    return;
                case FrameKind.Invalid:
                    Invariants.Check(!string.IsNullOrWhiteSpace(frame.Error), "invalid JSON without an error");
                    ControlEnvelope.Failure(null, frame.Error!);
                    break;
                case FrameKind.Message:
                    Request(frame.Message);
                    break;
                default:
                    throw new FuzzInvariantException($"frame kind {(int)frame.Kind} is outside FrameKind");
            }
        }
    }

    private static void Request(JsonNode? message)
    {
        if (message is not JsonObject request)
            return;
        JsonNode? id = request["id"];
        if (request["op"] is not JsonValue opValue || opValue.GetValueKind() != JsonValueKind.String)
        {
            ControlEnvelope.Failure(id, "request has no string field \"op\"");
            return;
        }
        try
        {
            Change(opValue.GetValue<string>(), request);
            ControlEnvelope.Success(id, new JsonObject());
        }
        catch (Exception e) when (e is ControlException or ConfigException)
        {
            // The documented refusals: the message goes to the client as the reply's "error".
            Invariants.Check(!string.IsNullOrWhiteSpace(e.Message), $"a {e.GetType().Name} without a message");
            ControlEnvelope.Failure(id, e.Message);
        }
    }

    /// <summary>What the change ops read from a request before DPDK is involved.</summary>
    private static void Change(string op, JsonObject request)
    {
        switch (op)
        {
            case "add-port":
                Validate(s_spec with { Ports = s_spec.Ports.Add(ControlRequests.Port(request)) });
                break;
            case "add-vm":
                (VmSpec vm, uint? vni) = ControlRequests.Vm(request);
                Validate(SpecChanges.AddVm(s_spec, vm, vni));
                break;
            case "add-remote-vm":
                Validate(s_spec with { RemoteVms = s_spec.RemoteVms.Add(ControlRequests.RemoteVm(request)) });
                break;
            case "remove-port" or "remove-vm" or "remove-remote-vm":
                ControlRequests.Name(request);
                break;
        }
    }

    private static void Validate(SwitchSpec spec)
    {
        IReadOnlyList<string> errors = SpecValidator.Validate(spec);
        if (errors.Count > 0)
            throw new ControlException(string.Join("; ", errors));
    }
}
