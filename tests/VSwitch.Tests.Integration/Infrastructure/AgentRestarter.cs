// The tests' stand-in for deploy/systemd/vswitch-agent.service: Restart=always, RestartSec=1,
// KillMode=process. It runs the agent and, whenever the agent ends (kill -9 included), starts it
// again a second later with the same arguments; it never signals anything the agent started, so
// vswitchd and the VMMs run on and the new agent adopts them.
namespace VSwitch.Tests.Integration.Infrastructure;

public sealed class AgentRestarter : IAsyncDisposable
{
    /// <summary>The unit's RestartSec.</summary>
    public static readonly TimeSpan RestartDelay = TimeSpan.FromSeconds(1);

    private readonly string _socket, _state;
    private readonly string[] _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;
    private volatile AgentProcess? _current;
    private int _starts;

    private AgentRestarter(string socket, string state, string[] options)
    {
        (_socket, _state, _options) = (socket, state, options);
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Starts the agent under the restarter; returns once its first run answers.</summary>
    public static async Task<AgentRestarter> StartAsync(string socket, string state, params string[] options)
    {
        var restarter = new AgentRestarter(socket, state, options);
        await restarter._started.Task;
        return restarter;
    }

    /// <summary>The agent of the current run (the last one started).</summary>
    public AgentProcess Current => _current!;

    /// <summary>How many times the agent was started, the first included.</summary>
    public int Starts => Volatile.Read(ref _starts);

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                AgentProcess agent = await AgentProcess.StartAsync(_socket, _state, _options);
                AgentProcess? previous = _current;
                _current = agent;
                Interlocked.Increment(ref _starts);
                _started.TrySetResult();
                if (previous is not null)
                    await previous.DisposeAsync();
                await agent.WaitForEndAsync(_stop.Token);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (!_started.Task.IsCompleted)
            {
                _started.TrySetException(e);
                return;
            }
            catch (Exception)
            {
                // A start that failed (its socket still held, say) is tried again, as systemd does.
            }
            try
            {
                await Task.Delay(RestartDelay, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Ends the restarter and stops the agent it runs with SIGTERM, as `systemctl stop` does (KillMode=process: not its children).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        if (_current is { } agent)
        {
            await agent.StopAsync();
            await agent.DisposeAsync();
        }
        _stop.Dispose();
    }
}
