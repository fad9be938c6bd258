// Fake vmm APIs for the agent's talks with its VMs' vmms: each served by the control-socket server
// vmm itself uses (src/Common/Control), on the socket path the agent gives that VM's vmm, recording
// the ops it gets and answering state, pause, resume and metrics as vmm does (docs/vmm.md, "API").
using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using VSwitch.Control.Agent.Plan;

namespace VSwitch.Tests.Unit.Control.Agent.Reconcile;

internal sealed class FakeVmmApi(string state, JsonArray? metrics) : IControlHandler
{
    public string State { get; private set; } = state;
    public ConcurrentQueue<string> Ops { get; } = new();

    public ValueTask<JsonObject> HandleAsync(string op, JsonObject request, CancellationToken ct)
    {
        Ops.Enqueue(op);
        State = (op, State) switch
        {
            ("state" or "metrics", _) => State,
            ("pause", "running" or "paused") => "paused",
            ("resume", "running" or "paused") => "running",
            _ => throw new ControlException($"op: cannot {op} a VM that is {State}"),
        };
        var reply = new JsonObject { ["state"] = State };
        if (op == "metrics")
            reply["metrics"] = metrics?.DeepClone() ?? new JsonArray();
        return ValueTask.FromResult(reply);
    }
}

internal sealed class FakeVmms : IAsyncDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("vsw-fakevmm-").FullName;
    private readonly List<ControlServer> _servers = [];

    public RuntimePaths Paths => new HostSettings(_folder).Paths;

    public FakeVmmApi Serve(string vm, string state, JsonArray? metrics = null)
    {
        Directory.CreateDirectory(Paths.VmmDirectory);
        var vmm = new FakeVmmApi(state, metrics);
        _servers.Add(ControlServer.Start(Paths.ApiSocket(vm), vmm, new ControlServerOptions("vmm")));
        return vmm;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (ControlServer server in _servers)
            await server.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }
}
