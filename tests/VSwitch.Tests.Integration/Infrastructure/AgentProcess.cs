// The built vswitch-agent as a test peer: started on a socket and a state file the test chooses,
// ready once the API answers on the socket, driven through the product's AgentClient, stopped
// with SIGTERM or killed with SIGKILL. Disposing kills it if it still runs.
using VSwitch.Control.Api;

namespace VSwitch.Tests.Integration.Infrastructure;

public sealed class AgentProcess : IAsyncDisposable
{
    /// <summary>The agent starts in well under a second; JIT on a loaded two-core host is the slow part.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    private readonly BackgroundProcess _process;

    public string Socket { get; }
    public AgentClient Client { get; }
    public string Log => _process.Describe();
    public int Pid => _process.Pid;

    private AgentProcess(string socket, BackgroundProcess process)
    {
        Socket = socket;
        _process = process;
        // A deadline, not a wait: in the one-CPU KVM sandbox, beside two booting guests, the
        // agent's first answers (JIT) took over 10 s.
        Client = new AgentClient(socket, TimeSpan.FromSeconds(60));
    }

    /// <summary>Runs vswitch-agent run --socket SOCKET --state STATE with <paramref name="extra"/>, without waiting for anything.</summary>
    public static AgentProcess Launch(string socket, string state, params string[] extra) =>
        new(socket, BackgroundProcess.Start("vswitch-agent", RepoPaths.Agent(), ["run", "--socket", socket, "--state", state, .. extra]));

    /// <summary>Launches the agent and waits until its socket answers a request.</summary>
    public static async Task<AgentProcess> StartAsync(string socket, string state, params string[] extra)
    {
        AgentProcess agent = Launch(socket, state, extra);
        try
        {
            await agent._process.WaitForLineAsync(line => line.Contains($"listening on {socket}"), StartTimeout, "its 'listening on' line");
            await agent.Client.GetAsync<Capacity>(Routes.Capacity);
            return agent;
        }
        catch
        {
            await agent.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits, for as long as it takes, until the agent has exited (killed, or ended by itself).</summary>
    public Task WaitForEndAsync(CancellationToken ct) => _process.WaitForExitAsync(Timeout.InfiniteTimeSpan, cancellationToken: ct);

    /// <summary>Waits for the agent to exit by itself; returns its status.</summary>
    public async Task<int> WaitForExitAsync() => await _process.WaitForExitAsync(StartTimeout) ?? -1;

    public Task<int> StopAsync() => _process.StopAsync(Signals.SIGTERM, StopTimeout);

    /// <summary>SIGKILL: no chance to close the database or remove the socket.</summary>
    public async Task KillAsync()
    {
        _process.Signal(Signals.SIGKILL);
        await _process.WaitForExitAsync(StopTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _process.DisposeAsync();
    }
}
