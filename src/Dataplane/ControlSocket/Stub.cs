// TEMPORARY stub, replaced by the control-socket branch.
using System.Text.Json.Nodes;
namespace VSwitch.Dataplane.ControlSocket;
public interface IControlHandler { ValueTask<JsonObject> HandleAsync(string op, JsonObject request, CancellationToken ct); }
public sealed class ControlException(string message) : Exception(message);
public sealed class ControlServer : IAsyncDisposable
{
    public static ControlServer Start(string socketPath, IControlHandler handler, Action<string>? log = null) => new();
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
public static class ControlCli { public static Task<int> RunAsync(string[] args) => Task.FromResult(2); }
