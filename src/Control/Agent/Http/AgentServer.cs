// The agent's HTTP API (docs/agent.md, "API"): ASP.NET Core minimal API on Kestrel, listening on a
// Unix socket only. The socket is bound under a staging name, given mode 0660 and the --group,
// and only then renamed onto the published path (as SocketPath.Listen does for the daemons'
// sockets), so it is never reachable with the umask's mode and a stale socket is replaced in one
// step. Every connection passes PeerGate first; every error answer is an ApiError.
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.WebUtilities;
using VSwitch.Common.Sockets;
using VSwitch.Control.Agent.Metrics;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Agent.State;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Http;

public static class AgentServer
{
    /// <summary>rw for the agent's user and the socket's group: the group is how vswctl's users get in.</summary>
    private const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>0755 for a directory the agent creates: the socket's own mode guards it, the directory only has to be traversable.</summary>
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>The largest request body: a VM with every field at its longest is a few KiB.</summary>
    private const long MaxRequestBodyBytes = 1024 * 1024;

    /// <summary>Serves the API until SIGTERM, SIGINT or <paramref name="ct"/>, then removes the socket.</summary>
    /// <exception cref="AgentStartException">The socket is taken or the state file unusable.</exception>
    public static async Task RunAsync(AgentSettings settings, CancellationToken ct)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("the agent needs Linux (Unix sockets' peer credentials, file modes)");
        string socketPath = Path.GetFullPath(settings.Socket);
        Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!, DirectoryMode);
        try
        {
            if (SocketPath.Probe(socketPath) == SocketPathState.Listening)
                throw new AgentStartException($"another agent is listening on {socketPath}");
        }
        catch (IOException e)
        {
            throw new AgentStartException($"--socket: {e.Message}", e);
        }

        AgentStore store;
        try
        {
            store = AgentStore.Open(settings.State);
        }
        catch (StateException e)
        {
            throw new AgentStartException($"--state: {e.Message}", e);
        }
        using (store)
        {
            string staging = SocketPath.Staging(socketPath);
            // Built before the loop it reports on: the loop logs through the application's logger.
            HostReconciler? reconciler = null;
            AgentStatus Status() => reconciler?.Status() ?? new AgentStatus([], null);
            await using WebApplication app = Build(settings, store, staging, Status, () => reconciler?.Poke(),
                ct => AgentMetrics.ScrapeAsync(Status(), reconciler?.Paths, ct));
            ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("vswitch-agent");
            if (settings.Reconcile is { } reconcile)
                reconciler = HostReconciler.Start(store.Read, reconcile, logger);
            try
            {
                await ServeAsync(app, settings, store, socketPath, staging, logger, ct);
            }
            finally
            {
                // Ends the loop; vswitchd keeps running for the next agent to adopt.
                if (reconciler is not null)
                    await reconciler.DisposeAsync();
            }
        }
    }

    /// <summary>Starts <paramref name="app"/>, publishes its socket and serves until shutdown, then removes the socket.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static async Task ServeAsync(WebApplication app, AgentSettings settings, AgentStore store, string socketPath, string staging,
        ILogger logger, CancellationToken ct)
    {
        await app.StartAsync(ct);
        FileId published;
        try
        {
            File.SetUnixFileMode(staging, SocketMode);
            if (settings.Group is { } gid)
                SocketFile.SetGroup(staging, gid);
            File.Move(staging, socketPath, overwrite: true);
            published = SocketPath.Identity(socketPath) ?? default;
        }
        catch
        {
            await app.StopAsync(CancellationToken.None);
            throw;
        }
        AgentLog.Listening(logger, socketPath, settings.Group?.ToString() ?? "the agent's own", store.Path,
            settings.Host.Cpus, settings.Host.VcpuOvercommit, settings.Host.MemoryMib);
        try
        {
            await app.WaitForShutdownAsync(ct);
        }
        finally
        {
            // Unless another agent has replaced it since: its clients must keep finding it.
            SocketPath.DeleteIfSame(socketPath, published);
            AgentLog.Stopped(logger, socketPath);
        }
    }

    /// <summary>The web application, listening on <paramref name="socket"/> once started.</summary>
    /// <param name="status">What GET /v1/status answers.</param>
    /// <param name="changed">Called after every stored change that vswitchd serves (tenants, VMs, remote hosts, remote VMs).</param>
    /// <param name="metrics">What GET /metrics answers, in Prometheus's text format.</param>
    internal static WebApplication Build(AgentSettings settings, AgentStore store, string socket, Func<AgentStatus> status, Action changed,
        Func<CancellationToken, Task<string>> metrics)
    {
        // No arguments, and the content root where the binary is: nothing in the working
        // directory (appsettings.json) changes how the agent runs.
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);

        ConnectionLimits limits = ConnectionLimits.Default with { AllowedGroup = settings.Group };
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            kestrel.Limits.KeepAliveTimeout = limits.IdleTimeout;
            kestrel.Limits.RequestHeadersTimeout = limits.FrameTimeout;
            var gate = new PeerGate(new ConnectionGate(limits),
                kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("vswitch-agent"));
            kestrel.ListenUnixSocket(socket, listen => listen.Use(gate.Wrap));
            // No peer credentials over TCP: that listener serves /metrics and nothing else (below).
            if (settings.MetricsListen is { } metricsListen)
                kestrel.Listen(metricsListen);
        });
        builder.Services.ConfigureHttpJsonOptions(o => AgentJson.Configure(o.SerializerOptions));
        builder.Services.AddOpenApi(AgentOpenApi.Configure);

        WebApplication app = builder.Build();
        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("vswitch-agent");
        app.Use(async (context, next) => await AnswerErrorsAsync(context, next, logger));
        app.Use(async (context, next) =>
        {
            // A TCP connection (--metrics-listen) has an IP address; the Unix socket's has none.
            if (context.Connection.LocalIpAddress is not null && context.Request.Path != Routes.Metrics)
                context.Response.StatusCode = StatusCodes.Status404NotFound;
            else
                await next(context);
        });

        HostResources host = settings.Host;
        ResourceEndpoints.Map(app, Routes.Tenants, Kinds.Tenant, store, host, logger, changed);
        ResourceEndpoints.Map(app, Routes.Vms, Kinds.Vm, store, host, logger, changed);
        ResourceEndpoints.Map(app, Routes.Volumes, Kinds.Volume, store, host, logger, changed);
        ResourceEndpoints.Map(app, Routes.Hosts, Kinds.Host, store, host, logger, changed);
        ResourceEndpoints.Map(app, Routes.RemoteVms, Kinds.RemoteVm, store, host, logger, changed);
        MapVmChange<VmCpu>(app, Routes.VmCpuTemplate, "set-vm-cpu", "Replace a VM's CPU weight and cap; its running vmm's cgroup follows within a second",
            (name, cpu) => store.SetCpu(name, cpu), vm => AgentLog.CpuSet(logger, vm.Name, vm.CpuWeight, vm.CpuMaxPercent?.ToString() ?? "none"), changed)
            .Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status404NotFound);
        MapVmChange<VmPower>(app, Routes.VmPowerTemplate, "set-vm-power",
            "Start, stop, pause or resume a VM: its power state; its vmm follows within a second (a stop gives the guest its ACPI power button first)",
            (name, power) => store.SetPower(name, power), vm => AgentLog.PowerSet(logger, vm.Name, vm.Power), changed)
            .Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status404NotFound)
            .Produces<ApiError>(StatusCodes.Status409Conflict);
        app.MapGet(Routes.Capacity, () => Results.Ok(host.Usage(store.Read())))
            .WithName("capacity")
            .WithTags("capacity")
            .WithSummary("What the host gives VMs and what they use of it")
            .Produces<Capacity>();
        app.MapGet(Routes.Status, () => Results.Ok(status()))
            .WithName("status")
            .WithTags("status")
            .WithSummary("The supervised processes and whether vswitchd serves the desired state")
            .Produces<AgentStatus>();
        app.MapGet(Routes.Metrics, async (CancellationToken ct) => Results.Text(await metrics(ct), PrometheusText.ContentType))
            .WithName("metrics")
            .WithTags("metrics")
            .WithSummary("The running VMs' vmm metrics, each labelled with its VM, and the agent's view of the host, in Prometheus's text format")
            .Produces<string>(StatusCodes.Status200OK, "text/plain");
        app.MapOpenApi(Routes.OpenApi);
        return app;
    }

    /// <summary>PUT on a VM's sub-resource: <paramref name="apply"/> stores the body's change (a Refusal on a bad one), then the loop is poked; 200 with the VM as stored. The caller lists the errors it can answer.</summary>
    private static RouteHandlerBuilder MapVmChange<TBody>(WebApplication app, string route, string operation, string summary, Func<string, TBody?, Vm> apply, Action<Vm> log,
        Action changed) where TBody : class =>
        app.MapPut(route, async (string name, HttpRequest request) =>
            {
                Vm stored = apply(name, await RequestBody.ReadAsync<TBody>(request));
                log(stored);
                changed();
                return Results.Ok(stored);
            })
            .WithName(operation)
            .WithTags("vms")
            .WithSummary(summary)
            .Accepts<TBody>("application/json")
            .Produces<Vm>();

    /// <summary>
    /// Every error as an ApiError: a rule's Refusal with its status, a body Kestrel refused (too
    /// large, cut off), an unknown route or method, and any other failure as a logged 500.
    /// </summary>
    private static async Task AnswerErrorsAsync(HttpContext context, RequestDelegate next, ILogger logger)
    {
        try
        {
            await next(context);
        }
        catch (Refusal refusal)
        {
            await WriteErrorAsync(context, refusal.Status, refusal.Body);
            return;
        }
        catch (BadHttpRequestException e)
        {
            await WriteErrorAsync(context, (HttpStatusCode)e.StatusCode, new ApiError(e.Message, "body"));
            return;
        }
        catch (Exception e) when (!context.Response.HasStarted && e is not OperationCanceledException)
        {
            AgentLog.Failed(logger, e, context.Request.Method, context.Request.Path);
            await WriteErrorAsync(context, HttpStatusCode.InternalServerError, new ApiError($"the agent failed: {e.Message}"));
            return;
        }
        if (!context.Response.HasStarted && context.Response.StatusCode >= StatusCodes.Status400BadRequest)
        {
            int status = context.Response.StatusCode;
            await WriteErrorAsync(context, (HttpStatusCode)status,
                new ApiError($"{ReasonPhrases.GetReasonPhrase(status).ToLowerInvariant()}: {context.Request.Method} {context.Request.Path} (docs/agent.md, \"API\")"));
        }
    }

    private static async Task WriteErrorAsync(HttpContext context, HttpStatusCode status, ApiError error)
    {
        if (context.Response.HasStarted)
            return;
        context.Response.Clear();
        context.Response.StatusCode = (int)status;
        await context.Response.WriteAsJsonAsync(error, AgentJson.Options, context.RequestAborted);
    }
}
