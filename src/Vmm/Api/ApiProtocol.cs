// The VMM's API wire format (docs/vmm.md, "API"): newline-delimited JSON over a Unix stream
// socket. Each request is one line holding one JSON object with an "op"; each gets exactly one
// response line, {"ok":true,"state":...} or {"ok":false,"error":"<field>: <problem>"}.
// Operations: state, pause, resume, shutdown.
using System.Text.Json;
using VSwitch.Vmm.Machine;

namespace VSwitch.Vmm.Api;

public enum ApiOperation
{
    State,
    Pause,
    Resume,
    Shutdown,
}

public static class ApiProtocol
{
    /// <summary>Longest request line: requests are a few dozen bytes; this only bounds a hostile client.</summary>
    public const int MaxRequestBytes = 4096;

    /// <summary>The operation a request line asks for, or an error that names the bad field.</summary>
    public static bool TryParseRequest(ReadOnlySpan<byte> line, out ApiOperation operation, out string error)
    {
        operation = default;
        try
        {
            using JsonDocument document = JsonDocument.Parse(line.ToArray());
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = $"request: must be a JSON object, not {root.ValueKind}";
                return false;
            }
            string? op = null;
            foreach (JsonProperty p in root.EnumerateObject())
            {
                if (p.Name != "op")
                {
                    error = $"{p.Name}: unknown field; a request has only \"op\"";
                    return false;
                }
                if (p.Value.ValueKind != JsonValueKind.String)
                {
                    error = $"op: must be a string, not {p.Value.ValueKind}";
                    return false;
                }
                op = p.Value.GetString();
            }
            switch (op)
            {
                case null:
                    error = "op: missing; one of state, pause, resume, shutdown";
                    return false;
                case "state": operation = ApiOperation.State; break;
                case "pause": operation = ApiOperation.Pause; break;
                case "resume": operation = ApiOperation.Resume; break;
                case "shutdown": operation = ApiOperation.Shutdown; break;
                default:
                    error = $"op: '{op}' is not one of state, pause, resume, shutdown";
                    return false;
            }
            error = "";
            return true;
        }
        catch (JsonException e)
        {
            error = $"request: not valid JSON: {e.Message}";
            return false;
        }
    }

    public static byte[] Ok(MachineState state) => Line(writer =>
    {
        writer.WriteBoolean("ok", true);
        writer.WriteString("state", StateName(state));
    });

    public static byte[] Error(string error, MachineState state) => Line(writer =>
    {
        writer.WriteBoolean("ok", false);
        writer.WriteString("error", error);
        writer.WriteString("state", StateName(state));
    });

    public static string StateName(MachineState state) => state switch
    {
        MachineState.Created => "created",
        MachineState.Running => "running",
        MachineState.Paused => "paused",
        _ => "stopped",
    };

    private static byte[] Line(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }
}
