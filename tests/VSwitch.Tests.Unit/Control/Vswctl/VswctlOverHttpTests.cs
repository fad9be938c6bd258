// vswctl against a real HTTP server on a Unix socket (Kestrel), through AgentClient: requests and
// answers as they go on the wire, and the status codes and error body of the agent's contract
// (201, 204, 400, 404, 409). The server is a stand-in keeping tenants in a dictionary, enough to
// hold vswctl's side of the wire; the real agent is the integration tests' to drive.
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using VSwitch.Common.Cli;
using VSwitch.Control.Api;
using VSwitch.Control.Vswctl;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Vswctl;

public sealed class VswctlOverHttpTests : IAsyncLifetime
{
    private const uint MaxVni = 16777215;

    private readonly string _folder = Directory.CreateTempSubdirectory("vswctl-http.").FullName;
    private readonly ConcurrentDictionary<string, Tenant> _tenants = new();
    private WebApplication? _agent;

    private string Socket => Path.Combine(_folder, "agent.sock");

    public async ValueTask InitializeAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(Socket));
        builder.Services.ConfigureHttpJsonOptions(json => AgentJson.Configure(json.SerializerOptions));
        _agent = builder.Build();
        _agent.MapGet(Routes.Tenants, () => _tenants.Values.OrderBy(t => t.Name, StringComparer.Ordinal));
        _agent.MapGet(Routes.Tenants + "/{name}", (string name) =>
            _tenants.TryGetValue(name, out Tenant? tenant) ? Results.Ok(tenant) : Results.NotFound(new ApiError($"tenant '{name}' does not exist")));
        _agent.MapPost(Routes.Tenants, (Tenant tenant) =>
            tenant.Vni is 0 or > MaxVni ? Results.BadRequest(new ApiError($"vni: {tenant.Vni} is out of range (1..{MaxVni})", "vni"))
            : _tenants.TryAdd(tenant.Name, tenant) ? Results.Created(Routes.Member(Routes.Tenants, tenant.Name), tenant)
            : Results.Conflict(new ApiError($"tenant '{tenant.Name}' exists", "name")));
        _agent.MapDelete(Routes.Tenants + "/{name}", (string name) =>
            _tenants.TryRemove(name, out _) ? Results.NoContent() : Results.NotFound(new ApiError($"tenant '{name}' does not exist")));
        await _agent.StartAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_agent is not null)
            await _agent.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Tenants_are_created_listed_shown_and_deleted_over_the_socket()
    {
        var run = new VswctlRun { Connect = AgentConnection.Open, EnvironmentSocket = Socket };

        (int created, string createdOut, _) = await run.RunAsync("tenant", "create", "acme", "--vni", "100");
        (int second, _, _) = await run.RunAsync("tenant", "create", "globex", "--vni", "200", "-o", "json");
        (int listed, string list, _) = await run.RunAsync("tenant", "list");
        (int shown, string show, _) = await run.RunAsync("tenant", "show", "globex", "-o", "json");
        (int deleted, string deleteOut, _) = await run.RunAsync("tenant", "delete", "acme");

        Assert.Equal((0, 0, 0, 0, 0), (created, second, listed, shown, deleted));
        Assert.Equal("name:  acme\nvni:   100\n", createdOut);
        Assert.Equal("NAME    VNI\nacme    100\nglobex  200\n", list);
        Assert.Equal("{\n  \"name\": \"globex\",\n  \"vni\": 200\n}\n", show);
        Assert.Equal("", deleteOut);
        Assert.Equal(["globex"], _tenants.Keys);
    }

    [Fact]
    public async Task The_agents_refusals_exit_2_with_its_message()
    {
        var run = new VswctlRun { Connect = AgentConnection.Open };
        _tenants["acme"] = new Tenant("acme", 100);

        (int conflict, string conflictOut, string conflictErr) = await run.RunAsync("tenant", "create", "acme", "--vni", "101", "--socket", Socket);
        (int bad, _, string badErr) = await run.RunAsync("tenant", "create", "initech", "--vni", "16777216", "--socket", Socket);
        (int missing, _, string missingErr) = await run.RunAsync("tenant", "delete", "initech", "--socket", Socket);

        Assert.Equal((ExitStatus.BadInput, ""), (conflict, conflictOut));
        Assert.Equal("vswctl tenant create: tenant 'acme' exists\n", conflictErr);
        Assert.Equal(ExitStatus.BadInput, bad);
        Assert.Equal("vswctl tenant create: vni: 16777216 is out of range (1..16777215)\n", badErr);
        Assert.Equal(ExitStatus.BadInput, missing);
        Assert.Equal("vswctl tenant delete: tenant 'initech' does not exist\n", missingErr);
        Assert.Equal(100u, _tenants["acme"].Vni);
    }

    [Fact]
    public async Task A_404_without_an_error_body_names_the_status()
    {
        // The stand-in serves no capacity: ASP.NET's own 404 has no error body (an agent older
        // than the route would answer so). AgentClient names the status; a 404 exits 2.
        (int exit, _, string stderr) = await new VswctlRun { Connect = AgentConnection.Open }.RunAsync("capacity", "--socket", Socket);

        Assert.Equal(ExitStatus.BadInput, exit);
        Assert.Equal("vswctl capacity: the agent answered 404 Not Found\n", stderr);
    }
}
