// The one JSON shape of the API on both sides: snake_case names, nulls left out.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace VSwitch.Control.Api;

public static class AgentJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions());

    /// <summary>Applies the API's conventions to <paramref name="options"/> (the agent's HTTP JSON options too).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.WriteIndented = true;
        return options;
    }
}
