// The agent's API over its Unix socket: HTTP/1.1 on a stream socket, as Docker's and Podman's
// APIs are. vswctl and the tests use it; a failure comes back as AgentException with the
// agent's own message.
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;

namespace VSwitch.Control.Api;

/// <summary>An HTTP error of the agent: its status and its error body.</summary>
public sealed class AgentException(HttpStatusCode status, ApiError error) : Exception(error.Error)
{
    public HttpStatusCode Status { get; } = status;
    public ApiError Body { get; } = error;
}

public sealed class AgentClient : IDisposable
{
    /// <summary>Where the agent listens unless configured otherwise (docs/agent.md).</summary>
    public const string DefaultSocket = "/run/vswitch/agent.sock";

    /// <summary>How long a request waits for the agent's answer unless the caller says otherwise.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http;

    public AgentClient(string socketPath, TimeSpan? timeout = null)
    {
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        // The host name is never resolved: every request goes to the socket.
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://agent"), Timeout = timeout ?? DefaultTimeout };
    }

    public string SocketPath { get; }

    public async Task<T> GetAsync<T>(string path, CancellationToken ct = default)
    {
        using HttpResponseMessage response = await _http.GetAsync(path, ct).ConfigureAwait(false);
        return await ReadAsync<T>(response, ct).ConfigureAwait(false);
    }

    /// <summary>Creates <paramref name="resource"/> in <paramref name="collection"/> (Routes); returns it as stored.</summary>
    public async Task<T> CreateAsync<T>(string collection, T resource, CancellationToken ct = default)
    {
        using HttpResponseMessage response = await _http.PostAsJsonAsync(collection, resource, AgentJson.Options, ct).ConfigureAwait(false);
        return await ReadAsync<T>(response, ct).ConfigureAwait(false);
    }

    /// <summary>Replaces what <paramref name="path"/> holds with <paramref name="value"/>; returns what the agent stored.</summary>
    public async Task<TAnswer> PutAsync<T, TAnswer>(string path, T value, CancellationToken ct = default)
    {
        using HttpResponseMessage response = await _http.PutAsJsonAsync(path, value, AgentJson.Options, ct).ConfigureAwait(false);
        return await ReadAsync<TAnswer>(response, ct).ConfigureAwait(false);
    }

    public async Task DeleteAsync(string collection, string name, CancellationToken ct = default)
    {
        using HttpResponseMessage response = await _http.DeleteAsync(Routes.Member(collection, name), ct).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, ct).ConfigureAwait(false);
    }

    /// <summary>The raw body of GET <paramref name="path"/> (the OpenAPI document).</summary>
    public async Task<string> GetTextAsync(string path, CancellationToken ct = default)
    {
        using HttpResponseMessage response = await _http.GetAsync(path, ct).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, ct).ConfigureAwait(false);
        return await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        await ThrowIfFailedAsync(response, ct).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<T>(AgentJson.Answers, ct).ConfigureAwait(false)
            ?? throw new AgentException(response.StatusCode, new ApiError("the agent answered with an empty body"));
    }

    private static async Task ThrowIfFailedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode)
            return;
        ApiError? error = null;
        try
        {
            error = await response.Content.ReadFromJsonAsync<ApiError>(AgentJson.Answers, ct).ConfigureAwait(false);
        }
        catch (System.Text.Json.JsonException)
        {
        }
        throw new AgentException(response.StatusCode, error ?? new ApiError($"the agent answered {(int)response.StatusCode} {response.ReasonPhrase}"));
    }

    public void Dispose() => _http.Dispose();
}
