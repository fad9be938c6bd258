// The built vswitch-agent process on a temporary socket and state file, driven through the
// product's AgentClient as vswctl drives it (docs/agent.md): every kind created, listed, shown and
// deleted; refusals as ApiErrors naming their field; state kept across kill -9; the socket's
// ownership rules (a live agent is never displaced, a stale socket is, a peer outside the
// allowed users is refused by the server itself); and the served OpenAPI document equal to the
// committed docs/agent-openapi.json.
using System.Net;
using System.Text.Json.Nodes;
using VSwitch.Common.Cli;
using VSwitch.Common.Sockets;
using VSwitch.Control.Api;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;

namespace VSwitch.Tests.Integration.Control;

public sealed class AgentProcessTests : IDisposable
{
    private const string RefreshVariable = "VSWITCH_REFRESH_OPENAPI";

    private readonly string _folder = Directory.CreateTempSubdirectory("vswitch-agent-it-").FullName;

    private string SocketPath => Path.Combine(_folder, "agent.sock");
    private string StatePath => Path.Combine(_folder, "state", "agent.db");
    private string Kernel => Path.Combine(_folder, "bzImage");

    public AgentProcessTests() => File.WriteAllText(Kernel, "not booted in this slice");

    /// <summary>An agent with 4 CPUs × 2 vCPUs and 4 GiB for VMs: small enough to run out of in a test.</summary>
    private Task<AgentProcess> StartAsync(params string[] extra) =>
        AgentProcess.StartAsync(SocketPath, StatePath, ["--cpus", "4", "--vcpu-overcommit", "2", "--memory-mib", "4096", .. extra]);

    private Vm NewVm(string name, string mac, string ip, params string[] volumes) =>
        new(name, "blue", Vcpus: 2, MemoryMib: 1024, Kernel, Nics: [new Nic(mac, [ip])], Volumes: volumes);

    private static async Task<AgentException> RefusedAsync(HttpStatusCode status, string? field, Func<Task> request)
    {
        AgentException e = await Assert.ThrowsAsync<AgentException>(request);
        Assert.Equal((status, field), (e.Status, e.Body.Field));
        return e;
    }

    [Fact]
    public async Task Every_kind_is_created_listed_shown_and_deleted()
    {
        await using AgentProcess agent = await StartAsync();
        AgentClient api = agent.Client;

        Assert.Equal(new Tenant("blue", 100), await api.CreateAsync(Routes.Tenants, new Tenant("blue", 100)));
        Assert.Equal(new Volume("disk-a", 512), await api.CreateAsync(Routes.Volumes, new Volume("disk-a", 512)));
        Assert.Equal(new RemoteHost("east", "192.0.2.10", "geneve"), await api.CreateAsync(Routes.Hosts, new RemoteHost("east", "192.0.2.10", "geneve")));
        Vm stored = await api.CreateAsync(Routes.Vms, NewVm("web-1", "02:00:00:00:00:AA", "10.0.0.1", "disk-a"));
        Assert.Equal("02:00:00:00:00:aa", stored.Nics![0].Mac);

        Assert.Equal([new Tenant("blue", 100)], await api.GetAsync<Tenant[]>(Routes.Tenants));
        Assert.Equal(["web-1"], (await api.GetAsync<Vm[]>(Routes.Vms)).Select(vm => vm.Name));
        Assert.Equal(new Volume("disk-a", 512, "web-1"), await api.GetAsync<Volume>(Routes.Member(Routes.Volumes, "disk-a")));
        Assert.Equal("192.0.2.10", (await api.GetAsync<RemoteHost>(Routes.Member(Routes.Hosts, "east"))).Vtep);
        Assert.Equal(["disk-a"], (await api.GetAsync<Vm>(Routes.Member(Routes.Vms, "web-1"))).Volumes!);
        Assert.Equal(new Capacity(4, 4096, 2, 2, 1024), await api.GetAsync<Capacity>(Routes.Capacity));

        await api.DeleteAsync(Routes.Vms, "web-1");
        Assert.Null((await api.GetAsync<Volume>(Routes.Member(Routes.Volumes, "disk-a"))).Vm);
        await api.DeleteAsync(Routes.Volumes, "disk-a");
        await api.DeleteAsync(Routes.Hosts, "east");
        await api.DeleteAsync(Routes.Tenants, "blue");

        foreach (string collection in new[] { Routes.Tenants, Routes.Vms, Routes.Volumes, Routes.Hosts })
            Assert.Empty(await api.GetAsync<JsonArray>(collection));
        await RefusedAsync(HttpStatusCode.NotFound, "name", () => api.GetAsync<Tenant>(Routes.Member(Routes.Tenants, "blue")));
        await RefusedAsync(HttpStatusCode.NotFound, "name", () => api.DeleteAsync(Routes.Vms, "web-1"));
        Assert.Equal(new Capacity(4, 4096, 2, 0, 0), await api.GetAsync<Capacity>(Routes.Capacity));
    }

    [Fact]
    public async Task Refusals_come_back_as_api_errors_naming_the_field()
    {
        await using AgentProcess agent = await StartAsync();
        AgentClient api = agent.Client;
        await api.CreateAsync(Routes.Tenants, new Tenant("blue", 100));
        await api.CreateAsync(Routes.Volumes, new Volume("disk-a", 512));
        await api.CreateAsync(Routes.Vms, NewVm("web-1", "02:00:00:00:00:01", "10.0.0.1", "disk-a"));

        await RefusedAsync(HttpStatusCode.Conflict, "name", () => api.CreateAsync(Routes.Tenants, new Tenant("blue", 200)));
        Assert.Contains("'blue'", (await RefusedAsync(HttpStatusCode.Conflict, "vni", () => api.CreateAsync(Routes.Tenants, new Tenant("red", 100)))).Message);
        Assert.Contains("'web-1'", (await RefusedAsync(HttpStatusCode.Conflict, "nics[0].ipv4[0]",
            () => api.CreateAsync(Routes.Vms, NewVm("web-2", "02:00:00:00:00:02", "10.0.0.1")))).Message);
        Assert.Contains("'web-1'", (await RefusedAsync(HttpStatusCode.Conflict, "volumes[0]",
            () => api.CreateAsync(Routes.Vms, NewVm("web-2", "02:00:00:00:00:02", "10.0.0.2", "disk-a")))).Message);
        await RefusedAsync(HttpStatusCode.NotFound, "tenant", () => api.CreateAsync(Routes.Vms, NewVm("web-2", "02:00:00:00:00:02", "10.0.0.2") with { Tenant = "green" }));
        await RefusedAsync(HttpStatusCode.BadRequest, "vcpus", () => api.CreateAsync(Routes.Vms, NewVm("web-2", "02:00:00:00:00:02", "10.0.0.2") with { Vcpus = 65 }));
        Assert.Contains("3072 MiB left", (await RefusedAsync(HttpStatusCode.Conflict, "memory_mib",
            () => api.CreateAsync(Routes.Vms, NewVm("web-2", "02:00:00:00:00:02", "10.0.0.2") with { MemoryMib = 4000 }))).Message);
        await RefusedAsync(HttpStatusCode.Conflict, "name", () => api.DeleteAsync(Routes.Tenants, "blue"));
        await RefusedAsync(HttpStatusCode.Conflict, "name", () => api.DeleteAsync(Routes.Volumes, "disk-a"));

        // A field the resource does not have, and a value of the wrong type, are 400s naming the field.
        var unknown = new JsonObject { ["name"] = "red", ["vni"] = 7, ["colour"] = "red" };
        Assert.Contains("unknown field", (await RefusedAsync(HttpStatusCode.BadRequest, "colour", () => api.CreateAsync(Routes.Tenants, unknown))).Message);
        var nested = JsonNode.Parse("""{"name":"web-3","tenant":"blue","vcpus":1,"memory_mib":64,"kernel":"/k","nics":[{"mac":"02:00:00:00:00:09","ipv4":[],"speed":1}]}""")!.AsObject();
        await RefusedAsync(HttpStatusCode.BadRequest, "nics[0].speed", () => api.CreateAsync(Routes.Vms, nested));
        await RefusedAsync(HttpStatusCode.BadRequest, "vni", () => api.CreateAsync(Routes.Tenants, new JsonObject { ["name"] = "red", ["vni"] = "seven" }));
        await RefusedAsync(HttpStatusCode.NotFound, null, () => api.GetAsync<JsonNode>("/v1/nothing-here"));

        Assert.Equal(["web-1"], (await api.GetAsync<Vm[]>(Routes.Vms)).Select(vm => vm.Name));
        Assert.Equal(["blue"], (await api.GetAsync<Tenant[]>(Routes.Tenants)).Select(t => t.Name));
    }

    [Fact]
    public async Task State_survives_kill_9_and_a_restart()
    {
        await using (AgentProcess first = await StartAsync())
        {
            await first.Client.CreateAsync(Routes.Tenants, new Tenant("blue", 100));
            await first.Client.CreateAsync(Routes.Volumes, new Volume("disk-a", 512));
            await first.Client.CreateAsync(Routes.Vms, NewVm("web-1", "02:00:00:00:00:01", "10.0.0.1", "disk-a"));
            await first.KillAsync();
        }

        await using AgentProcess second = await StartAsync();
        Assert.Equal([new Tenant("blue", 100)], await second.Client.GetAsync<Tenant[]>(Routes.Tenants));
        Assert.Equal("web-1", (await second.Client.GetAsync<Volume>(Routes.Member(Routes.Volumes, "disk-a"))).Vm);
        Assert.Equal(1024, (await second.Client.GetAsync<Vm>(Routes.Member(Routes.Vms, "web-1"))).MemoryMib);
        Assert.Equal(2, (await second.Client.GetAsync<Capacity>(Routes.Capacity)).VcpusUsed);
    }

    [Fact]
    public async Task A_stale_socket_left_by_a_killed_agent_is_replaced()
    {
        await using (AgentProcess first = await StartAsync())
            await first.KillAsync();
        Assert.Equal(SocketPathState.Stale, VSwitch.Common.Sockets.SocketPath.Probe(SocketPath));

        await using AgentProcess second = await StartAsync();
        Assert.Equal(SocketPathState.Listening, VSwitch.Common.Sockets.SocketPath.Probe(SocketPath));
        Assert.Equal(4, (await second.Client.GetAsync<Capacity>(Routes.Capacity)).Cpus);

        Assert.Equal(ExitStatus.Ok, await second.StopAsync());
        Assert.False(File.Exists(SocketPath), "a stopped agent removes its socket");
    }

    [Fact]
    public async Task A_second_agent_on_a_live_socket_refuses_to_start()
    {
        await using AgentProcess first = await StartAsync();
        await first.Client.CreateAsync(Routes.Tenants, new Tenant("blue", 100));

        await using AgentProcess second = AgentProcess.Launch(SocketPath, Path.Combine(_folder, "other.db"));
        Assert.Equal(ExitStatus.BadInput, await second.WaitForExitAsync());
        Assert.Contains($"another agent is listening on {SocketPath}", second.Log);

        Assert.Equal(["blue"], (await first.Client.GetAsync<Tenant[]>(Routes.Tenants)).Select(t => t.Name));
    }

    [Fact]
    public async Task The_socket_is_0660_and_a_peer_outside_the_allowed_users_is_refused_by_the_agent()
    {
        await using AgentProcess agent = await StartAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(SocketPath));
        await agent.Client.CreateAsync(Routes.Tenants, new Tenant("blue", 100));

        // The file's mode would keep uid 65534 out before it reached the agent; opened up, the
        // check under test is the agent's own (SO_PEERCRED).
        OpenToOthers();
        File.SetUnixFileMode(SocketPath, (UnixFileMode)Convert.ToInt32("666", 8));
        (int exit, string output) = await CurlAsOtherUserAsync("--clear-groups");

        Assert.Equal(0, exit);
        Assert.StartsWith("403 ", output);
        Assert.Contains("permission denied: uid 65534 is not root and not in group", output);
        Assert.DoesNotContain("blue", output);
        Assert.Contains("refusing a client", agent.Log);
    }

    [Fact]
    public async Task A_member_of_the_group_gets_in_through_the_socket_the_group_owns()
    {
        const int group = 4242;
        await using AgentProcess agent = await StartAsync("--group", $"{group}");
        await agent.Client.CreateAsync(Routes.Tenants, new Tenant("blue", 100));
        OpenToOthers();

        ProcessResult owner = await ProcessRunner.RunCheckedAsync("stat", ["-c", "%a %g", SocketPath]);
        Assert.Equal($"660 {group}", owner.Stdout.Trim());
        (int exit, string output) = await CurlAsOtherUserAsync($"--groups={group}");

        Assert.Equal(0, exit);
        Assert.StartsWith("200 ", output);
        Assert.Contains("\"blue\"", output);
    }

    /// <summary>The test's folder traversable by uid 65534 (it is created 0700).</summary>
    private void OpenToOthers() => File.SetUnixFileMode(_folder, (UnixFileMode)Convert.ToInt32("755", 8));

    /// <summary>GET /v1/tenants by curl (setpriv, util-linux) as uid 65534 with <paramref name="groups"/>: "STATUS BODY".</summary>
    private async Task<(int Exit, string Output)> CurlAsOtherUserAsync(string groups)
    {
        if (Signals.GetEffectiveUserId() != 0)
            Assert.Skip("needs root to run a client under another uid (setpriv)");
        ProcessResult curl = await ProcessRunner.RunAsync("setpriv",
            ["--reuid=65534", "--regid=65534", groups, "curl", "-sS", "--unix-socket", SocketPath, "-w", "\n%{http_code}", "http://agent/v1/tenants"]);
        // -w writes the status after the body: it goes to the front, where a failure message shows it first.
        string[] lines = curl.Stdout.Split('\n');
        return (curl.ExitCode, $"{lines[^1]} {string.Join('\n', lines[..^1])}{curl.Stderr}");
    }

    [Fact]
    public async Task The_served_openapi_document_is_the_committed_one()
    {
        await using AgentProcess agent = await StartAsync();
        string served = (await agent.Client.GetTextAsync(Routes.OpenApi)).TrimEnd() + "\n";
        string committed = Path.Combine(RepoPaths.Root, "docs", "agent-openapi.json");

        if (Environment.GetEnvironmentVariable(RefreshVariable) == "1")
            await File.WriteAllTextAsync(committed, served);
        string expected = File.Exists(committed) ? await File.ReadAllTextAsync(committed) : "";
        Assert.True(expected == served,
            $"docs/agent-openapi.json differs from the document vswitch-agent serves at {Routes.OpenApi}. If the API change is meant, refresh it " +
            $"and commit it: {RefreshVariable}=1 dotnet tests/VSwitch.Tests.Integration/bin/Release/net10.0/VSwitch.Tests.Integration.dll " +
            "-method '*The_served_openapi_document_is_the_committed_one'");
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
