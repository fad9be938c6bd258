// The OpenAPI document the agent serves at /openapi/v1.json, committed as docs/agent-openapi.json
// (an integration test compares the two). It must be the same whoever asks and however: no
// "servers" entry, which ASP.NET derives from the request's Host header.
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace VSwitch.Control.Agent.Http;

internal static class AgentOpenApi
{
    public static void Configure(OpenApiOptions options) =>
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "vswitch-agent",
                Version = "v1",
                Description = "The VSwitch host agent's API over its Unix socket (docs/agent.md). Every error is an ApiError.",
            };
            document.Servers = [];
            return Task.CompletedTask;
        });
}
