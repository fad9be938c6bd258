// An agent for vswctl's tests, without a process or a socket: it records every request, answers
// GETs from a table of sample resources (404 for a path not in it), echoes a create's resource
// back as stored, and can be made to fail every call with a given exception.
using System.Net;
using VSwitch.Control.Api;
using VSwitch.Control.Vswctl;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Vswctl;

internal sealed record AgentRequest(string Method, string Path, object? Body = null);

internal sealed class FakeAgent : IAgentCalls
{
    public static readonly Tenant Acme = new("acme", 100);
    public static readonly Tenant Globex = new("globex-research", 16777215);
    public static readonly Volume Data = new("data", 1024, "web");
    public static readonly Volume Spare = new("spare", 20480);
    public static readonly RemoteHost Host2 = new("host2", "192.0.2.2");
    public static readonly RemoteVm Cache = new("cache", "acme", "host2", "02:00:00:00:00:0c", ["10.0.0.12", "10.0.0.13"]);
    public static readonly RemoteVm Probe = new("probe", "globex-research", "host2", "02:00:00:00:00:0d", []);
    public static readonly Vm Web = new("web", "acme", 2, 512, "/boot/vmlinuz", "/boot/initrd.img", "quiet loglevel=3",
        [new Nic("02:00:00:00:00:01", ["10.0.0.5", "10.0.0.6"]), new Nic("02:00:00:00:00:02", ["192.168.7.2"], 30)], ["data"], CpuMaxPercent: 150);
    public static readonly Vm Db = new("db", "globex-research", 8, 16384, "/boot/vmlinuz");
    public static readonly Capacity Host = new(16, 65536, 2.5, 10, 16896);

    public Dictionary<string, object> Answers { get; } = new()
    {
        [Routes.Tenants] = new List<Tenant> { Acme, Globex },
        [Routes.Member(Routes.Tenants, "acme")] = Acme,
        [Routes.Volumes] = new List<Volume> { Data, Spare },
        [Routes.Member(Routes.Volumes, "data")] = Data,
        [Routes.Hosts] = new List<RemoteHost> { Host2 },
        [Routes.Member(Routes.Hosts, "host2")] = Host2,
        [Routes.RemoteVms] = new List<RemoteVm> { Cache, Probe },
        [Routes.Member(Routes.RemoteVms, "cache")] = Cache,
        [Routes.Vms] = new List<Vm> { Web, Db },
        [Routes.Member(Routes.Vms, "web")] = Web,
        [Routes.Capacity] = Host,
    };

    public List<AgentRequest> Requests { get; } = [];

    /// <summary>Thrown by every call, after it is recorded.</summary>
    public Exception? Failure { get; set; }

    public bool Disposed { get; private set; }

    public static AgentException Refusal(HttpStatusCode status, string message, string? field = null) => new(status, new ApiError(message, field));

    public Task<T> GetAsync<T>(string path, CancellationToken ct)
    {
        Record(new("GET", path));
        return Task.FromResult(Answers.TryGetValue(path, out object? answer) ? (T)answer
            : throw Refusal(HttpStatusCode.NotFound, $"{path}: no such resource"));
    }

    public Task<T> CreateAsync<T>(string collection, T resource, CancellationToken ct)
    {
        Record(new("POST", collection, resource));
        return Task.FromResult(resource);
    }

    public Task DeleteAsync(string collection, string name, CancellationToken ct)
    {
        Record(new("DELETE", Routes.Member(collection, name)));
        return Task.CompletedTask;
    }

    /// <summary>Answers a VM's CPU or power with the VM it names, that replaced.</summary>
    public Task<TAnswer> PutAsync<T, TAnswer>(string path, T value, CancellationToken ct)
    {
        Record(new("PUT", path, value));
        object answer = (value, Answers.GetValueOrDefault(path[..path.LastIndexOf('/')])) switch
        {
            (VmCpu cpu, Vm vm) => vm with { CpuWeight = cpu.CpuWeight, CpuMaxPercent = cpu.CpuMaxPercent },
            (VmPower power, Vm vm) => vm with { Power = power.State },
            _ => throw Refusal(HttpStatusCode.NotFound, $"{path}: no such resource"),
        };
        return Task.FromResult((TAnswer)answer);
    }

    public void Dispose() => Disposed = true;

    private void Record(AgentRequest request)
    {
        Requests.Add(request);
        if (Failure is not null)
            throw Failure;
    }
}

/// <summary>vswctl run in the test's process against a fake agent, or against the real client with <see cref="Connect"/> left null.</summary>
internal sealed class VswctlRun
{
    public FakeAgent Agent { get; } = new();

    /// <summary>The socket path each connection was made for.</summary>
    public List<string> Sockets { get; } = [];

    public string? EnvironmentSocket { get; init; }

    /// <summary>How vswctl connects: to <see cref="Agent"/> unless set (AgentConnection.Open for the real client).</summary>
    public Func<string, IAgentCalls>? Connect { get; init; }

    public async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        int exit = await VswctlCommandLine.RunAsync(args, stdout, stderr, socket =>
        {
            Sockets.Add(socket);
            return Connect?.Invoke(socket) ?? Agent;
        }, EnvironmentSocket, TestContext.Current.CancellationToken);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
