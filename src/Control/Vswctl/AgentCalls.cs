// The few calls vswctl makes to the agent, as an interface: the program makes them through
// AgentClient over the agent's socket, the unit tests through a fake that records each request
// and answers without a process.
using VSwitch.Control.Api;

namespace VSwitch.Control.Vswctl;

internal interface IAgentCalls : IDisposable
{
    /// <summary>GET <paramref name="path"/>: a collection, a member (Routes.Member) or the capacity.</summary>
    Task<T> GetAsync<T>(string path, CancellationToken ct);

    /// <summary>POST <paramref name="resource"/> to <paramref name="collection"/>; the resource as the agent stored it.</summary>
    Task<T> CreateAsync<T>(string collection, T resource, CancellationToken ct);

    Task DeleteAsync(string collection, string name, CancellationToken ct);

    /// <summary>PUT <paramref name="value"/> to <paramref name="path"/>; what the agent stored (a VM's CPU: the VM).</summary>
    Task<TAnswer> PutAsync<T, TAnswer>(string path, T value, CancellationToken ct);
}

internal sealed class AgentConnection(AgentClient client) : IAgentCalls
{
    public static IAgentCalls Open(string socketPath) => new AgentConnection(new AgentClient(socketPath));

    public Task<T> GetAsync<T>(string path, CancellationToken ct) => client.GetAsync<T>(path, ct);

    public Task<T> CreateAsync<T>(string collection, T resource, CancellationToken ct) => client.CreateAsync(collection, resource, ct);

    public Task DeleteAsync(string collection, string name, CancellationToken ct) => client.DeleteAsync(collection, name, ct);

    public Task<TAnswer> PutAsync<T, TAnswer>(string path, T value, CancellationToken ct) => client.PutAsync<T, TAnswer>(path, value, ct);

    public void Dispose() => client.Dispose();
}
