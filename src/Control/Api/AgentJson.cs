// The one JSON shape of the API on both sides: snake_case names, nulls left out, unknown fields
// refused, and text unescaped beyond what JSON needs: the API's bodies are read by people and
// programs, never embedded in HTML, so 'name' stays 'name' rather than \u0027name\u0027.
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace VSwitch.Control.Api;

public static class AgentJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions());

    /// <summary>
    /// How a client reads the agent's answers: as Options, but a field it does not know is
    /// skipped, so an agent that adds one does not break an older vswctl. Requests stay strict.
    /// </summary>
    public static JsonSerializerOptions Answers { get; } = new(Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip };

    /// <summary>Applies the API's conventions to <paramref name="options"/> (the agent's HTTP JSON options too).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        // Set, not inherited: ASP.NET's web defaults read "7" as 7 and "VNI" as "vni", and the
        // agent's HTTP options start from them; the API takes numbers as numbers and names as written.
        options.NumberHandling = JsonNumberHandling.Strict;
        options.PropertyNameCaseInsensitive = false;
        options.WriteIndented = true;
        options.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        return options;
    }
}
