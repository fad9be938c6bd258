// vswctl, the built binary, against the built vswitch-agent: what an operator types, end to end
// (docs/vswctl.md). A tenant, a volume and a VM created, listed as JSON and as a table, a refusal
// printed with the field it names and exit 2, a delete, and an agent that is not there.
using System.Text.Json.Nodes;
using VSwitch.Common.Cli;
using VSwitch.Tests.Integration.Infrastructure;
using Xunit;

namespace VSwitch.Tests.Integration.Control;

public sealed class VswctlProcessTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("vswctl-it-").FullName;

    private string SocketPath => Path.Combine(_folder, "agent.sock");

    private Task<ProcessResult> VswctlAsync(params string[] args) => ProcessRunner.RunAsync(RepoPaths.Vswctl(), ["--socket", SocketPath, .. args], null);

    private async Task<string> SucceedsAsync(params string[] args)
    {
        ProcessResult result = await VswctlAsync(args);
        Assert.True(result.ExitCode == ExitStatus.Ok, result.Describe());
        return result.Stdout;
    }

    [Fact]
    public async Task An_operator_creates_a_tenant_with_a_vm_and_its_volume_and_removes_them()
    {
        string kernel = Path.Combine(_folder, "vmlinuz");
        File.WriteAllText(kernel, "a kernel file; nothing is booted here");
        await using AgentProcess agent = await AgentProcess.StartAsync(SocketPath, Path.Combine(_folder, "agent.db"), "--cpus", "4", "--memory-mib", "4096");

        await SucceedsAsync("tenant", "create", "red", "--vni", "5001");
        await SucceedsAsync("volume", "create", "red-disk", "--size-mib", "64");
        await SucceedsAsync("vm", "create", "red-a", "--tenant", "red", "--vcpus", "2", "--memory-mib", "512", "--kernel", kernel,
            "--nic", "mac=02:00:00:00:00:01,ip=10.0.0.1", "--volume", "red-disk");

        JsonArray vms = JsonNode.Parse(await SucceedsAsync("-o", "json", "vm", "list"))!.AsArray();
        JsonNode vm = Assert.Single(vms)!;
        Assert.Equal(("red-a", "red", 2, "10.0.0.1"), ((string)vm["name"]!, (string)vm["tenant"]!, (int)vm["vcpus"]!, (string)vm["nics"]![0]!["ipv4"]![0]!));
        Assert.Equal("red-a", (string)JsonNode.Parse(await SucceedsAsync("-o", "json", "volume", "show", "red-disk"))!["vm"]!);
        string table = await SucceedsAsync("tenant", "list");
        Assert.Contains(table.Split('\n'), line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["red", "5001"]);

        // The same MAC again in the tenant: refused by the agent, named by field, exit 2, nothing created.
        ProcessResult duplicate = await VswctlAsync("vm", "create", "red-b", "--tenant", "red", "--vcpus", "1", "--memory-mib", "256", "--kernel", kernel,
            "--nic", "mac=02:00:00:00:00:01,ip=10.0.0.2");
        Assert.True(duplicate.ExitCode == ExitStatus.BadInput, duplicate.Describe());
        Assert.Contains("nics[0].mac", duplicate.Stderr);
        Assert.Contains("red-a", duplicate.Stderr);
        Assert.Single(JsonNode.Parse(await SucceedsAsync("-o", "json", "vm", "list"))!.AsArray());

        // A tenant with a VM stays; once the VM is gone, its volume is free and the tenant goes.
        Assert.Equal(ExitStatus.BadInput, (await VswctlAsync("tenant", "delete", "red")).ExitCode);
        await SucceedsAsync("vm", "delete", "red-a");
        Assert.Null(JsonNode.Parse(await SucceedsAsync("-o", "json", "volume", "show", "red-disk"))!["vm"]);
        await SucceedsAsync("tenant", "delete", "red");
        Assert.Empty(JsonNode.Parse(await SucceedsAsync("-o", "json", "tenant", "list"))!.AsArray());
    }

    [Fact]
    public async Task With_no_agent_listening_vswctl_says_where_it_looked_and_exits_2()
    {
        ProcessResult result = await VswctlAsync("tenant", "list");

        Assert.True(result.ExitCode == ExitStatus.BadInput, result.Describe());
        Assert.Contains($"cannot reach the agent at {SocketPath}", result.Stderr);
        Assert.Contains("is the agent running?", result.Stderr);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
