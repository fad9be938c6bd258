// /metrics over HTTP (metrics.listen in the config): prometheus-net's MetricServer on one address,
// serving VswitchdMetrics. Each scrape reads a fresh snapshot first; scrapes that overlap take
// turns, so every answer is one whole snapshot.
using System.Net;
using System.Net.Sockets;
using Prometheus;

namespace VSwitch.Dataplane.Metrics;

internal sealed class MetricsEndpoint : IAsyncDisposable
{
    private readonly MetricServer _server;

    private MetricsEndpoint(MetricServer server) => _server = server;

    /// <summary>The URL Prometheus scrapes for <paramref name="listen"/>.</summary>
    public static string Url(IPEndPoint listen) => $"http://{Host(listen)}:{listen.Port}/metrics";

    /// <summary>Serves /metrics on <paramref name="listen"/>, calling <paramref name="read"/> at each scrape. Throws MetricsEndpointException when it cannot listen.</summary>
    public static MetricsEndpoint Start(IPEndPoint listen, Func<CancellationToken, Task<MetricsInputs>> read)
    {
        var metrics = new VswitchdMetrics();
        var turn = new SemaphoreSlim(1, 1);
        metrics.Registry.AddBeforeCollectCallback(async ct =>
        {
            await turn.WaitAsync(ct);
            try
            {
                metrics.Update(await read(ct));
            }
            finally
            {
                turn.Release();
            }
        });
        // HttpListener's prefix: "+" is every address; an IPv6 address goes in brackets.
        bool any = listen.Address.Equals(IPAddress.Any) || listen.Address.Equals(IPAddress.IPv6Any);
        var server = new MetricServer(any ? "+" : Host(listen), listen.Port, "metrics/", metrics.Registry);
        try
        {
            server.Start();
        }
        catch (Exception e) when (e is HttpListenerException or SocketException or InvalidOperationException)
        {
            throw new MetricsEndpointException($"metrics.listen: cannot serve /metrics on {listen}: {e.Message}");
        }
        return new MetricsEndpoint(server);
    }

    private static string Host(IPEndPoint listen) =>
        listen.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{listen.Address}]" : listen.Address.ToString();

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync();
        _server.Dispose();
    }
}

public sealed class MetricsEndpointException(string message) : Exception(message);
