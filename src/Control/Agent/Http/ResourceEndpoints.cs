// The routes of one kind of resource (Routes.cs, docs/agent.md "API"): GET the collection lists,
// POST creates (201 and the resource as stored), GET and DELETE a member show and delete (204).
// A Refusal from the store's rules becomes its ApiError in AgentServer's error middleware. After a
// change is stored, `changed` is called (the reconcile loop's Poke): it only wakes the loop, so
// the answer never waits for, or fails with, the daemons.
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using VSwitch.Control.Agent.State;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Http;

internal static class ResourceEndpoints
{
    public static void Map<T>(IEndpointRouteBuilder app, string collection, Kind<T> kind, AgentStore store, HostResources host, ILogger logger,
        Action changed) where T : class
    {
        // The route's last part ("remote-vms") names the operations, as a client sees them.
        string plural = collection[(collection.LastIndexOf('/') + 1)..];
        RouteGroupBuilder group = app.MapGroup(collection).WithTags(plural);

        group.MapGet("", () => Results.Ok(store.List(kind)))
            .WithName($"list-{plural}")
            .WithSummary($"Every {kind.Noun}, by name")
            .Produces<IReadOnlyList<T>>();

        group.MapGet("/{name}", (string name) => Results.Ok(store.Show(kind, name)))
            .WithName($"show-{plural}")
            .WithSummary($"One {kind.Noun}")
            .Produces<T>()
            .Produces<ApiError>(StatusCodes.Status404NotFound);

        group.MapPost("", async (HttpRequest request) =>
            {
                T stored = store.Create(kind, await RequestBody.ReadAsync<T>(request), host);
                AgentLog.Created(logger, kind.Noun, kind.NameOf(stored));
                changed();
                return Results.Created(Routes.Member(collection, kind.NameOf(stored)), stored);
            })
            .WithName($"create-{plural}")
            .WithSummary($"Create a {kind.Noun}; 201 with it as stored")
            .Accepts<T>("application/json")
            .Produces<T>(StatusCodes.Status201Created)
            .Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status404NotFound)
            .Produces<ApiError>(StatusCodes.Status409Conflict);

        group.MapDelete("/{name}", (string name) =>
            {
                store.Delete(kind, name);
                AgentLog.Deleted(logger, kind.Noun, name);
                changed();
                return Results.NoContent();
            })
            .WithName($"delete-{plural}")
            .WithSummary($"Delete a {kind.Noun}; 204")
            .Produces(StatusCodes.Status204NoContent)
            .Produces<ApiError>(StatusCodes.Status404NotFound)
            .Produces<ApiError>(StatusCodes.Status409Conflict);
    }
}
