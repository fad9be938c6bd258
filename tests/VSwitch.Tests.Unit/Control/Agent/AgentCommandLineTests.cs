// vswitch-agent's command line (Cli/AgentCommandLine.cs): bad option values exit 2 naming the
// option, before anything is opened or bound; --help works; the memory default is MemTotal less
// the documented reserve. A body the HTTP layer cannot read names its field (Http/RequestBody.cs).
using VSwitch.Common.Cli;
using VSwitch.Control.Agent.Cli;
using VSwitch.Control.Agent.Http;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent;

public sealed class AgentCommandLineTests
{
    private static async Task<(int Exit, string Stdout, string Stderr)> AgentAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = await AgentCommandLine.InvokeAsync(args, stdout, stderr, TestContext.Current.CancellationToken);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("--cpus", "0", "--cpus: 0 is out of range 1..4096")]
    [InlineData("--cpus", "many", "'--cpus'")]
    [InlineData("--memory-mib", "0", "--memory-mib: 0 is below 1")]
    [InlineData("--vcpu-overcommit", "0.5", "--vcpu-overcommit: 0.5 is out of range 1..64")]
    [InlineData("--group", "no-such-group-here", "--group: 'no-such-group-here' is neither a gid nor a group in /etc/group")]
    [InlineData("--state", "", "--state: must not be empty")]
    [InlineData("--metrics-listen", "9464", "--metrics-listen: '9464' is not an IP address and port (127.0.0.1:9464, [::1]:9464)")]
    [InlineData("--metrics-listen", "localhost:9464", "--metrics-listen: 'localhost:9464' is not an IP address and port")]
    [InlineData("--metrics-listen", "127.0.0.1:0", "--metrics-listen: '127.0.0.1:0' is not an IP address and port")]
    [InlineData("--metrics-listen", "127.0.0.1:70000", "--metrics-listen: '127.0.0.1:70000' is not an IP address and port")]
    public async Task A_bad_option_value_exits_2_naming_the_option(string option, string value, string message)
    {
        string socket = "/tmp/never-bound-" + Guid.NewGuid().ToString("N")[..8] + ".sock";
        (int exit, string stdout, string stderr) = await AgentAsync("run", "--socket", socket, option, value);

        Assert.Equal(ExitStatus.BadInput, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith("vswitch-agent run: ", stderr);
        Assert.Contains(message, stderr);
        Assert.Contains("see 'vswitch-agent run --help'", stderr);
        Assert.False(File.Exists(socket));
    }

    [Fact]
    public async Task A_host_settings_file_it_cannot_run_with_exits_2_naming_the_field()
    {
        string socket = "/tmp/never-bound-" + Guid.NewGuid().ToString("N")[..8] + ".sock";
        string file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, """{"runtime_dir": "run", "vswitchd_binary": "/usr/bin/vswitchd"}""", TestContext.Current.CancellationToken);
            (int exit, string stdout, string stderr) = await AgentAsync("run", "--socket", socket, "--host-settings", file);
            Assert.Equal((ExitStatus.BadInput, ""), (exit, stdout));
            Assert.Equal($"vswitch-agent: --host-settings {file}: runtime_dir: 'run' is not an absolute path\n", stderr);
            Assert.False(File.Exists(socket));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_socket_path_too_long_for_sun_path_is_refused()
    {
        (int exit, _, string stderr) = await AgentAsync("run", "--socket", "/tmp/" + new string('s', 120));
        Assert.Equal(ExitStatus.BadInput, exit);
        Assert.Contains("--socket: ", stderr);
        Assert.Contains("at most 107", stderr);
    }

    /// <summary>
    /// deploy/systemd/vswitch-agent.service restarts the agent whatever ended it and signals the
    /// agent alone (its children must outlive it to be adopted), keeps /run/vswitch across
    /// restarts (the vhost-user sockets and the supervisor's records live there), and starts it
    /// with options this agent has. The integration tests run the agent under the same policy
    /// (AgentRestarter).
    /// </summary>
    [Fact]
    public async Task The_systemd_unit_restarts_the_agent_alone_and_names_only_options_it_has()
    {
        string[] lines = File.ReadAllLines(Path.Combine(Repository.Root, "deploy", "systemd", "vswitch-agent.service"));
        Dictionary<string, string> service = lines.SkipWhile(l => l != "[Service]").Skip(1).TakeWhile(l => !l.StartsWith('['))
            .Where(l => l.Contains('=') && !l.StartsWith('#')).Select(l => l.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
        Assert.Equal(("always", "process", "vswitch", "yes"), (service["Restart"], service["KillMode"], service["RuntimeDirectory"], service["RuntimeDirectoryPreserve"]));

        string[] exec = service["ExecStart"].Split(' ');
        Assert.Equal(("vswitch-agent", "run"), (Path.GetFileName(exec[0]), exec[1]));
        (int exit, string help, _) = await AgentAsync("run", "--help");
        Assert.Equal(ExitStatus.Ok, exit);
        foreach (string option in exec.Where(a => a.StartsWith("--", StringComparison.Ordinal)))
            Assert.Contains($"  {option} ", help);
        Assert.Contains("/run/vswitch/", service["ExecStart"]);
    }

    [Theory]
    [InlineData(new[] { "--help" }, " [command] [options]")]
    [InlineData(new[] { "run", "--help" }, " run [options]")]
    public async Task Help_works_on_every_verb(string[] args, string usage)
    {
        (int exit, string stdout, string stderr) = await AgentAsync(args);
        Assert.Equal(ExitStatus.Ok, exit);
        Assert.Equal("", stderr);
        Assert.Contains(usage, stdout.Split("Usage:\n")[1].Split('\n')[0]);
    }

    [Fact]
    public void The_memory_default_keeps_a_gigabyte_or_a_tenth_for_the_host()
    {
        Assert.Equal(0, HostMemory.ForVms(512));
        Assert.Equal(4096 - 1024, HostMemory.ForVms(4096));
        Assert.Equal(65536 - 6553, HostMemory.ForVms(65536));

        string meminfo = Path.GetTempFileName();
        try
        {
            File.WriteAllText(meminfo, "MemTotal:       16384000 kB\nMemFree:         1000 kB\n");
            Assert.Equal(16000, HostMemory.TotalMib(meminfo));
            File.WriteAllText(meminfo, "MemFree:         1000 kB\n");
            Assert.Throws<InvalidDataException>(() => HostMemory.TotalMib(meminfo));
        }
        finally
        {
            File.Delete(meminfo);
        }
        Assert.True(HostMemory.TotalMib() > 0);
    }

    [Theory]
    [InlineData("$.nics[0].mac", "nics[0].mac")]
    [InlineData("$.vni", "vni")]
    [InlineData("$", "body")]
    [InlineData(null, "body")]
    public void A_json_path_becomes_the_field_name(string? path, string field) =>
        Assert.Equal(field, RequestBody.FieldOf(path));
}
