// Every verb of vswctl makes the request the API expects: the method, the route, and for a create
// the body as it goes on the wire (AgentJson), options mapped to fields and defaults left to the
// API's records. Options before or after the verbs, and where the socket path comes from.
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Common.Cli;
using VSwitch.Control.Api;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Vswctl;

public sealed class VswctlRequestTests
{
    public static TheoryData<string[], string, string, string?> Verbs => new()
    {
        { ["tenant", "create", "acme", "--vni", "100"], "POST", "/v1/tenants", """{"name": "acme", "vni": 100}""" },
        { ["tenant", "list"], "GET", "/v1/tenants", null },
        { ["tenant", "show", "acme"], "GET", "/v1/tenants/acme", null },
        { ["tenant", "delete", "acme"], "DELETE", "/v1/tenants/acme", null },
        { ["volume", "create", "data", "--size-mib", "1024"], "POST", "/v1/volumes", """{"name": "data", "size_mib": 1024}""" },
        { ["volume", "list"], "GET", "/v1/volumes", null },
        { ["volume", "show", "data"], "GET", "/v1/volumes/data", null },
        { ["volume", "delete", "data"], "DELETE", "/v1/volumes/data", null },
        { ["host", "create", "host2", "--vtep", "192.0.2.2"], "POST", "/v1/hosts", """{"name": "host2", "vtep": "192.0.2.2", "tunnel": "vxlan"}""" },
        { ["host", "create", "host3", "--vtep", "192.0.2.3", "--tunnel", "geneve"], "POST", "/v1/hosts", """{"name": "host3", "vtep": "192.0.2.3", "tunnel": "geneve"}""" },
        { ["host", "list"], "GET", "/v1/hosts", null },
        { ["host", "show", "host2"], "GET", "/v1/hosts/host2", null },
        { ["host", "delete", "host2"], "DELETE", "/v1/hosts/host2", null },
        {
            ["remote-vm", "create", "cache", "--tenant", "acme", "--host", "host2", "--mac", "02:00:00:00:00:0c", "--ip", "10.0.0.12", "--ip", "10.0.0.13"],
            "POST", "/v1/remote-vms", """{"name": "cache", "tenant": "acme", "host": "host2", "mac": "02:00:00:00:00:0c", "ipv4": ["10.0.0.12", "10.0.0.13"]}"""
        },
        {
            ["remote-vm", "create", "probe", "--tenant", "acme", "--host", "host2", "--mac", "02:00:00:00:00:0d"],
            "POST", "/v1/remote-vms", """{"name": "probe", "tenant": "acme", "host": "host2", "mac": "02:00:00:00:00:0d"}"""
        },
        { ["remote-vm", "list"], "GET", "/v1/remote-vms", null },
        { ["remote-vm", "show", "cache"], "GET", "/v1/remote-vms/cache", null },
        { ["remote-vm", "delete", "cache"], "DELETE", "/v1/remote-vms/cache", null },
        {
            ["vm", "create", "db", "--tenant", "acme", "--vcpus", "4", "--memory-mib", "2048", "--kernel", "/boot/vmlinuz"],
            "POST", "/v1/vms", """{"name": "db", "tenant": "acme", "vcpus": 4, "memory_mib": 2048, "kernel": "/boot/vmlinuz", "cpu_weight": 100, "power": "running"}"""
        },
        {
            [
                "vm", "create", "web", "--tenant", "acme", "--vcpus", "2", "--memory-mib", "512", "--kernel", "/k/bzImage", "--initramfs", "/k/initrd",
                "--cmdline", "quiet loglevel=3", "--nic", "mac=02:00:00:00:00:01,ip=10.0.0.5,ip=10.0.0.6", "--nic", "mac=02:00:00:00:00:02,ip=192.168.7.2,prefix=30",
                "--volume", "data", "--volume", "logs", "--cpu-weight", "200", "--cpu-max-percent", "150", "--stopped",
            ],
            "POST", "/v1/vms",
            """
            {
              "name": "web", "tenant": "acme", "vcpus": 2, "memory_mib": 512, "kernel": "/k/bzImage", "initramfs": "/k/initrd", "cmdline": "quiet loglevel=3",
              "nics": [
                {"mac": "02:00:00:00:00:01", "ipv4": ["10.0.0.5", "10.0.0.6"], "prefix": 24},
                {"mac": "02:00:00:00:00:02", "ipv4": ["192.168.7.2"], "prefix": 30}
              ],
              "volumes": ["data", "logs"], "cpu_weight": 200, "cpu_max_percent": 150, "power": "stopped"
            }
            """
        },
        { ["vm", "list"], "GET", "/v1/vms", null },
        { ["vm", "show", "web"], "GET", "/v1/vms/web", null },
        { ["vm", "delete", "web"], "DELETE", "/v1/vms/web", null },
        { ["vm", "set-cpu", "web", "--cpu-weight", "300"], "PUT", "/v1/vms/web/cpu", """{"cpu_weight": 300}""" },
        { ["vm", "set-cpu", "web", "--cpu-max-percent", "20"], "PUT", "/v1/vms/web/cpu", """{"cpu_weight": 100, "cpu_max_percent": 20}""" },
        { ["vm", "start", "web"], "PUT", "/v1/vms/web/power", """{"state": "running"}""" },
        { ["vm", "stop", "web"], "PUT", "/v1/vms/web/power", """{"state": "stopped"}""" },
        { ["vm", "pause", "web"], "PUT", "/v1/vms/web/power", """{"state": "paused"}""" },
        { ["vm", "resume", "web"], "PUT", "/v1/vms/web/power", """{"state": "running"}""" },
        { ["capacity"], "GET", "/v1/capacity", null },
    };

    [Theory]
    [MemberData(nameof(Verbs))]
    public async Task Each_verb_sends_its_request(string[] args, string method, string path, string? body)
    {
        var run = new VswctlRun();

        (int exit, _, string stderr) = await run.RunAsync(args);

        AgentRequest request = Assert.Single(run.Agent.Requests);
        Assert.Equal((method, path), (request.Method, request.Path));
        if (body is null)
            Assert.Null(request.Body);
        else
            AssertJson(body, request.Body);
        Assert.Equal(ExitStatus.Ok, exit);
        Assert.Equal("", stderr);
        Assert.True(run.Agent.Disposed, "the client is disposed after the verb");
    }

    [Fact]
    public async Task Relative_kernel_and_initramfs_paths_are_sent_absolute_from_the_current_directory()
    {
        var run = new VswctlRun();

        (int exit, _, _) = await run.RunAsync("vm", "create", "web", "--tenant", "acme", "--vcpus", "1", "--memory-mib", "256",
            "--kernel", "images/bzImage", "--initramfs", "../initrd.img");

        Assert.Equal(ExitStatus.Ok, exit);
        var vm = Assert.IsType<Vm>(Assert.Single(run.Agent.Requests).Body);
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "images", "bzImage"), vm.Kernel);
        Assert.Equal(Path.Combine(Path.GetDirectoryName(Environment.CurrentDirectory)!, "initrd.img"), vm.Initramfs);
    }

    [Theory]
    [InlineData(new[] { "--socket", "/tmp/a.sock", "tenant", "list" }, "/env.sock", "/tmp/a.sock")]
    [InlineData(new[] { "tenant", "list", "--socket", "/tmp/a.sock" }, null, "/tmp/a.sock")]
    [InlineData(new[] { "tenant", "list" }, "/env.sock", "/env.sock")]
    [InlineData(new[] { "tenant", "list" }, "", AgentClient.DefaultSocket)]
    [InlineData(new[] { "tenant", "list" }, null, AgentClient.DefaultSocket)]
    public async Task The_socket_is_the_option_else_the_environment_else_the_default(string[] args, string? environment, string expected)
    {
        var run = new VswctlRun { EnvironmentSocket = environment };

        (int exit, _, _) = await run.RunAsync(args);

        Assert.Equal(ExitStatus.Ok, exit);
        Assert.Equal(expected, Assert.Single(run.Sockets));
    }

    [Theory]
    [InlineData("-o", "json", "tenant", "list")]
    [InlineData("tenant", "-o", "json", "list")]
    [InlineData("tenant", "list", "--output", "json")]
    public async Task The_output_option_stands_anywhere(params string[] args)
    {
        (int exit, string stdout, _) = await new VswctlRun().RunAsync(args);

        Assert.Equal(ExitStatus.Ok, exit);
        Assert.StartsWith("[", stdout);
    }

    private static void AssertJson(string expected, object? actual)
    {
        Assert.NotNull(actual);
        JsonNode sent = JsonSerializer.SerializeToNode(actual, actual.GetType(), AgentJson.Options)!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), sent), $"sent {sent.ToJsonString()}");
    }
}
