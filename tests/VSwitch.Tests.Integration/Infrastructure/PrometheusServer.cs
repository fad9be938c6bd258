// A real Prometheus server (Debian's prometheus package, installed by scripts/setup) scraping one
// target every second, asked through its HTTP query API
// (https://prometheus.io/docs/prometheus/latest/querying/api/). Its storage lives in a temporary
// directory that goes with it.
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace VSwitch.Tests.Integration.Infrastructure;

public sealed class PrometheusServer : IAsyncDisposable
{
    public const string Job = "vswitchd";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly BackgroundProcess _process;
    private readonly HttpClient _http;
    private readonly string _dir;

    private PrometheusServer(BackgroundProcess process, HttpClient http, string dir)
    {
        _process = process;
        _http = http;
        _dir = dir;
    }

    public string Log => _process.Describe(4000);

    /// <summary>A TCP port on 127.0.0.1 that nothing listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts Prometheus scraping <paramref name="target"/> (host:port, path /metrics) every second; returns once it is ready.</summary>
    public static async Task<PrometheusServer> StartAsync(string target, CancellationToken ct)
    {
        string binary = File.Exists("/usr/bin/prometheus") ? "/usr/bin/prometheus"
            : throw new InvalidOperationException("prometheus is not installed: run scripts/setup (Debian package 'prometheus')");
        string dir = Directory.CreateTempSubdirectory("vsw-prometheus-").FullName;
        string config = Path.Combine(dir, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 900ms
            scrape_configs:
              - job_name: {Job}
                static_configs:
                  - targets: ["{target}"]
            """, ct);
        int port = FreePort();
        BackgroundProcess process = BackgroundProcess.Start("prometheus", binary,
            [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(dir, "data")}", $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]);
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) };
        var server = new PrometheusServer(process, http, dir);
        DateTime deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            try
            {
                if ((await http.GetAsync("-/ready", ct)).IsSuccessStatusCode)
                    return server;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                string log = process.Describe(4000);
                await server.DisposeAsync();
                throw new InvalidOperationException($"prometheus did not become ready within {StartTimeout.TotalSeconds} s:\n{log}");
            }
            await Task.Delay(200, ct);
        }
    }

    /// <summary>An instant query's result: each series' labels and value.</summary>
    public async Task<IReadOnlyList<(JsonObject Labels, double Value)>> QueryAsync(string promql, CancellationToken ct)
    {
        string json = await _http.GetStringAsync($"api/v1/query?query={Uri.EscapeDataString(promql)}", ct);
        JsonNode answer = JsonNode.Parse(json)!;
        if ((string?)answer["status"] != "success")
            throw new InvalidOperationException($"prometheus refused '{promql}': {json}");
        return [.. answer["data"]!["result"]!.AsArray().Select(r => (r!["metric"]!.AsObject(), double.Parse((string)r["value"]![1]!, CultureInfo.InvariantCulture)))];
    }

    /// <summary>The value of a query that must return exactly one series.</summary>
    public async Task<double> ScalarAsync(string promql, CancellationToken ct)
    {
        IReadOnlyList<(JsonObject Labels, double Value)> result = await QueryAsync(promql, ct);
        return result.Count == 1 ? result[0].Value
            : throw new InvalidOperationException($"'{promql}' returned {result.Count} series, not 1: {string.Join("; ", result.Select(r => $"{r.Labels.ToJsonString()} {r.Value}"))}");
    }

    /// <summary>Waits until the query returns one series whose value satisfies <paramref name="done"/>; returns that value.</summary>
    public async Task<double> WaitForAsync(string promql, Func<double, bool> done, TimeSpan timeout, CancellationToken ct)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            IReadOnlyList<(JsonObject Labels, double Value)> result = await QueryAsync(promql, ct);
            if (result.Count == 1 && done(result[0].Value))
                return result[0].Value;
            last = result.Count == 1 ? result[0].Value.ToString(CultureInfo.InvariantCulture) : $"{result.Count} series";
            await Task.Delay(500, ct);
        }
        throw new TimeoutException($"'{promql}' did not reach the expected value within {timeout.TotalSeconds} s (last: {last})\n{Log}");
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}
