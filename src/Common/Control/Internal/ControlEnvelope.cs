// The reply envelope: "ok", the request's "id", then "error" or the handler's fields. Written
// straight from the handler's object rather than by adding fields to it, so a reply object the
// handler caches or shares between connections is never mutated.
using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VSwitch.Common.Control;

internal static class ControlEnvelope
{
    public static ArrayBufferWriter<byte> Success(JsonNode? id, JsonObject body) => Write(id, error: null, body);

    public static ArrayBufferWriter<byte> Failure(JsonNode? id, string error) => Write(id, error, body: null);

    private static ArrayBufferWriter<byte> Write(JsonNode? id, string? error, JsonObject? body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using var json = new Utf8JsonWriter(buffer);
        json.WriteStartObject();
        json.WriteBoolean("ok", error is null);
        if (id is not null)
        {
            json.WritePropertyName("id");
            id.WriteTo(json);
        }
        if (error is not null)
            json.WriteString("error", error);
        foreach (KeyValuePair<string, JsonNode?> property in body ?? [])
        {
            if (property.Key is "ok" or "id")
                continue;
            json.WritePropertyName(property.Key);
            if (property.Value is null)
                json.WriteNullValue();
            else
                property.Value.WriteTo(json);
        }
        json.WriteEndObject();
        json.Flush();
        return buffer;
    }
}
