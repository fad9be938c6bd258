// What every test class needs that keeps one vswitchd running across its tests: a scratch
// folder, a DPDK file prefix of its own, and the control-socket calls; disposal stops the
// process (and its DPDK runtime files) before the folder goes.
using System.Text.Json.Nodes;
using Xunit;

namespace VSwitch.Tests.Integration.Infrastructure;

/// <param name="name">Names the scratch folder (vsw-NAME-*) and the file prefix (vswNAME + pid).</param>
/// <param name="countersTimeout">How long CountersAfter waits for the worker to reach a packet count.</param>
public abstract class RunningVswitchd(string name, TimeSpan countersTimeout) : IAsyncLifetime
{
    protected readonly string _dir = Directory.CreateTempSubdirectory($"vsw-{name}-").FullName;
    protected readonly string _prefix = $"vsw{name}{Environment.ProcessId}";
    protected VswitchdProcess? _vswitchd;

    /// <summary>Writes the inputs and the configuration into _dir and starts _vswitchd.</summary>
    public abstract ValueTask InitializeAsync();

    public async ValueTask DisposeAsync()
    {
        if (_vswitchd is not null)
            await _vswitchd.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Writes <paramref name="config"/> (with this run's file prefix and control socket) into _dir and starts _vswitchd on it.</summary>
    protected async Task StartAsync(VswitchdConfig config)
    {
        string socket = Path.Combine(_dir, "vswitchd.sock");
        string path = await (config with { FilePrefix = _prefix, ControlSocket = socket }).WriteAsync(Path.Combine(_dir, "vswitchd.json"));
        _vswitchd = await VswitchdProcess.StartAsync(path, _prefix, socket, VswitchdReady.ControlSocket);
    }

    protected Task<JsonObject> Request(string op, JsonObject? fields = null) =>
        _vswitchd!.OpAsync(op, fields, TestContext.Current.CancellationToken);

    protected Task<JsonObject> CountersAfter(ulong packets) =>
        _vswitchd!.CountersAfterAsync(packets, countersTimeout, TestContext.Current.CancellationToken);
}
