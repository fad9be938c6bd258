// A create request's body, read with the API's JSON conventions (AgentJson): a field the
// resource does not have, a value of the wrong type or broken JSON is a 400 that names the field
// where the reader stopped, as System.Text.Json reports it ("$.nics[0].mac" -> "nics[0].mac").
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Http;

internal static class RequestBody
{
    public static async Task<T?> ReadAsync<T>(HttpRequest request) where T : class
    {
        if (!request.HasJsonContentType())
            throw Refusal.Malformed("body", "must be JSON, sent with Content-Type: application/json");
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(request.Body, AgentJson.Options, request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            string field = FieldOf(e.Path);
            // UnmappedMemberHandling.Disallow's message: "The JSON property 'x' could not be mapped to any .NET member contained in type '...'."
            if (e.Message.Contains("could not be mapped", StringComparison.Ordinal))
                throw Refusal.Malformed(field, $"unknown field; a {typeof(T).Name.ToLowerInvariant()} has no such field (docs/agent.md)");
            throw Refusal.Malformed(field, $"malformed JSON: {e.Message.Split(" Path:")[0]}");
        }
    }

    /// <summary>The API's name of the field at a JSON path: "$.nics[0].mac" -> "nics[0].mac"; the root or no path: "body".</summary>
    internal static string FieldOf(string? path) => path is null or "$" || !path.StartsWith("$.", StringComparison.Ordinal) ? "body" : path[2..];
}
