// vmm's API socket served in-process on a stand-in machine (no KVM needed): its ops and their
// errors, the socket's file mode, the socket of another VMM at the same path, and the shared
// control server's limits as the API applies them. The wire is the framed JSON of
// docs/control-socket.md, spoken here by the control socket tests' raw client and by `vmm ctl`.
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using VSwitch.Common.Sockets;
using VSwitch.Tests.Unit.ControlSocket;
using VSwitch.Vmm.Api;
using VSwitch.Vmm.Cli;
using VSwitch.Vmm.Devices.Virtio.Block;
using VSwitch.Vmm.Machine;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Api;

[SupportedOSPlatform("linux")]
public sealed class ApiServerTests : IDisposable
{
    private const string Running = """{"ok":true,"state":"running"}""";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vsw-api-");
    private readonly string _path;

    public ApiServerTests() => _path = Path.Combine(_dir.FullName, "vm.sock");

    public void Dispose() => _dir.Delete(recursive: true);

    private sealed class StandIn : IApiMachine
    {
        private readonly TaskCompletionSource<VmOutcome> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public MachineState State { get; set; } = MachineState.Running;
        public int Stops { get; private set; }
        public int Presses { get; private set; }
        /// <summary>A guest with an ACPI button handler: it powers off when the button is pressed.</summary>
        public bool PowersOffOnButton { get; init; }
        public Task<VmOutcome> Outcome => _outcome.Task;
        public bool Pause() => Become(MachineState.Paused);
        public bool Resume() => Become(MachineState.Running);

        private bool Become(MachineState next)
        {
            if (State is not (MachineState.Running or MachineState.Paused))
                return false;
            State = next;
            return true;
        }
        public void RequestStop(VmOutcome outcome)
        {
            Stops++;
            _outcome.TrySetResult(outcome);
        }

        public bool PressPowerButton()
        {
            if (State != MachineState.Running || Outcome.IsCompleted)
                return false;
            Presses++;
            if (PowersOffOnButton)
                RequestStop(new VmOutcome(StopReason.PowerOff));
            return true;
        }

        public VmStatistics Statistics() => new([[7, 3, 0, 0]], [new(5, 5, [0, 0, 2], 40)],
            [new("root", new BlockQueueCounters([9, 1, 2, 0, 0, 1, 0, 0], 4096, 512, 3, [13]), new(11, 11, [0], 30)),
             new("data", new BlockQueueCounters([4, 0, 0, 0, 0, 0, 0, 0], 0, 2048, 1, [3, 1]), new(2, 2, [0], 30), new NetworkVolumeStatistics(1, 2))])
        {
            VcpuRunTime = [TimeSpan.FromMilliseconds(1500)],
            VcpuSteal = [TimeSpan.FromMilliseconds(250)],
            Serial = (120, 4),
        };
    }

    private static async Task<string> AskAsync(RawConnection client, string request) =>
        (await client.RoundTripAsync(request)).ToJsonString();

    private Task<RawConnection> ConnectAsync() => RawConnection.ConnectAsync(_path);

    private static ConnectionLimits Limits(int maxConnections = 64, double frameSeconds = 10) =>
        new(null, maxConnections, TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(frameSeconds));

    [Fact]
    public async Task Ops_change_the_vm_and_answer_with_its_state()
    {
        var machine = new StandIn();
        using ApiServer server = ApiServer.Start(machine, _path);
        await using RawConnection client = await ConnectAsync();

        Assert.Equal(Running, await AskAsync(client, """{"op":"state"}"""));
        Assert.Equal("""{"ok":true,"id":7,"state":"paused"}""", await AskAsync(client, """{"op":"pause","id":7}"""));
        Assert.Equal(MachineState.Paused, machine.State);
        Assert.Equal(Running, await AskAsync(client, """{"op":"resume"}"""));
        Assert.Equal("""{"ok":true,"state":"stopped"}""", await AskAsync(client, """{"op":"shutdown"}"""));
        Assert.Equal(1, machine.Stops);
        Assert.Equal("""{"ok":true,"state":"running","vcpus":[{"exits":{"port_io":7,"mmio":3,"interrupted":0,"other":0}}],"nics":[{"mmio_exits":{"interrupt_status_reads":5,"interrupt_acks":5,"queue_notifies":[0,0,2],"other":40}}],"disks":[{"id":"root","requests":{"ok":9,"io_error":1,"out_of_range":2,"unaligned":0,"read_only":0,"unsupported":1,"malformed":0,"no_status_byte":0},"read_bytes":4096,"written_bytes":512,"flushes":3,"queue_requests":[13],"mmio_exits":{"interrupt_status_reads":11,"interrupt_acks":11,"queue_notifies":[0],"other":30},"nbd":null},{"id":"data","requests":{"ok":4,"io_error":0,"out_of_range":0,"unaligned":0,"read_only":0,"unsupported":0,"malformed":0,"no_status_byte":0},"read_bytes":0,"written_bytes":2048,"flushes":1,"queue_requests":[3,1],"mmio_exits":{"interrupt_status_reads":2,"interrupt_acks":2,"queue_notifies":[0],"other":30},"nbd":{"reconnects":1,"retries":2}}]}""",
            await AskAsync(client, """{"op":"stats"}"""));
    }

    [Fact]
    public async Task Metrics_are_Prometheus_families_of_the_vms_statistics()
    {
        using ApiServer server = ApiServer.Start(new StandIn(), _path);
        await using RawConnection client = await ConnectAsync();
        JsonNode reply = JsonNode.Parse(await AskAsync(client, """{"op":"metrics"}"""))!;
        Assert.True((bool)reply["ok"]!, reply.ToJsonString());
        Dictionary<string, JsonObject> families = reply["metrics"]!.AsArray().Select(f => f!.AsObject()).ToDictionary(f => (string)f["name"]!);
        foreach ((string name, JsonObject family) in families)
        {
            Assert.Matches("^vmm_[a-z_]+_total$", name);
            Assert.Equal("counter", (string?)family["type"]);
            Assert.False(string.IsNullOrWhiteSpace((string?)family["help"]), name);
        }
        double Value(string family, params (string Name, string Value)[] labels) =>
            (double)families[family]["samples"]!.AsArray().Single(s => labels.All(l => (string?)s!["labels"]![l.Name] == l.Value))!["value"]!;
        Assert.Equal(1.5, Value("vmm_vcpu_run_seconds_total", ("vcpu", "0")));
        Assert.Equal(0.25, Value("vmm_vcpu_steal_seconds_total", ("vcpu", "0")));
        Assert.DoesNotContain("Not measured", (string?)families["vmm_vcpu_steal_seconds_total"]["help"]);
        Assert.Equal(7, Value("vmm_vcpu_exits_total", ("vcpu", "0"), ("reason", "port_io")));
        Assert.Equal(3, Value("vmm_vcpu_exits_total", ("vcpu", "0"), ("reason", "mmio")));
        Assert.Equal(2, Value("vmm_virtio_mmio_exits_total", ("device", "nic0"), ("register", "queue_notify"), ("queue", "2")));
        Assert.Equal(1, Value("vmm_disk_requests_total", ("disk", "root"), ("outcome", "io_error")));
        Assert.Equal(1, Value("vmm_disk_queue_requests_total", ("disk", "data"), ("queue", "1")));
        Assert.Equal(2048, Value("vmm_disk_written_bytes_total", ("disk", "data")));
        Assert.Equal(2, Value("vmm_nbd_retries_total", ("disk", "data")));
        Assert.Equal(120, Value("vmm_serial_transmitted_bytes_total"));
        Assert.Equal(4, Value("vmm_serial_received_bytes_total"));
    }

    [Theory]
    [InlineData("""{}""", "request has no string field \"op\"")]
    [InlineData("""{"op":1}""", "request has no string field \"op\"")]
    [InlineData("""{"op":"pause","force":true}""", "force: unknown field; pause takes only \"op\" and \"id\"")]
    [InlineData("""{"op":"reboot"}""", "unknown op 'reboot' (expected state, pause, resume, stop, shutdown, stats, metrics)")]
    [InlineData("""{"op":"stop","force":true}""", "force: unknown field; stop takes only \"op\", \"id\", \"timeout_s\"")]
    [InlineData("""{"op":"stop","timeout_s":0}""", "timeout_s: 0 is out of range (1..600)")]
    [InlineData("""{"op":"stop","timeout_s":601}""", "timeout_s: 601 is out of range (1..600)")]
    [InlineData("""{"op":"stop","timeout_s":-1}""", "timeout_s: -1 is out of range (1..600)")]
    [InlineData("""{"op":"stop","timeout_s":2.5}""", "timeout_s: must be a whole number of seconds (1..600), not 2.5")]
    [InlineData("""{"op":"stop","timeout_s":"30"}""", "timeout_s: must be a whole number of seconds (1..600), not \"30\"")]
    [InlineData("""{"op":"stop","timeout_s":1e99}""", "timeout_s: must be a whole number of seconds (1..600), not 1e99")]
    [InlineData("""{"op":"stop","timeout_s":[30]}""", "timeout_s: must be a whole number of seconds (1..600), not [30]")]
    [InlineData("""not json""", "invalid JSON: ")]
    public async Task Bad_requests_are_refused_naming_the_field_and_change_nothing(string request, string expected)
    {
        var machine = new StandIn();
        using ApiServer server = ApiServer.Start(machine, _path);
        await using RawConnection client = await ConnectAsync();

        JsonObject reply = await client.RoundTripAsync(request);

        Assert.False((bool)reply["ok"]!);
        Assert.StartsWith(expected, (string)reply["error"]!);
        Assert.Equal(MachineState.Running, machine.State);
        Assert.Equal((0, 0), (machine.Presses, machine.Stops));
        Assert.Equal(Running, await AskAsync(client, """{"op":"state"}"""));
    }

    [Fact]
    public async Task Stop_presses_the_power_button_and_answers_graceful_when_the_guest_powers_off()
    {
        var machine = new StandIn { PowersOffOnButton = true };
        using ApiServer server = ApiServer.Start(machine, _path);
        await using RawConnection client = await ConnectAsync();

        JsonObject reply = await client.RoundTripAsync("""{"op":"stop","id":3}""");

        Assert.Equal(("stopped", "poweroff", true), ((string)reply["state"]!, (string)reply["reason"]!, (bool)reply["graceful"]!));
        Assert.Equal(3, (int)reply["id"]!);
        Assert.InRange((double)reply["after_s"]!, 0, 5);
        Assert.Equal((1, 1), (machine.Presses, machine.Stops));
    }

    [Fact]
    public async Task Stop_stops_the_vm_hard_after_timeout_s_when_the_guest_ignores_the_button()
    {
        var machine = new StandIn();
        using ApiServer server = ApiServer.Start(machine, _path);
        await using RawConnection client = await ConnectAsync();

        JsonObject reply = await client.RoundTripAsync("""{"op":"stop","timeout_s":1}""");

        Assert.Equal(("stopped", "stop-timeout", false), ((string)reply["state"]!, (string)reply["reason"]!, (bool)reply["graceful"]!));
        Assert.InRange((double)reply["after_s"]!, 1, 10);
        Assert.Equal((1, 1), (machine.Presses, machine.Stops));
        VmOutcome outcome = await machine.Outcome;
        Assert.Equal("stop: the guest had not powered off 1 s after the power button; stopped it hard", outcome.Diagnostic);
        Assert.Equal(ExitCodes.Shutdown, outcome.ExitCode);
    }

    [Fact]
    public async Task Stop_resumes_a_paused_vm_so_its_guest_can_see_the_button_and_a_vm_not_started_is_refused()
    {
        var paused = new StandIn { State = MachineState.Paused, PowersOffOnButton = true };
        using (ApiServer server = ApiServer.Start(paused, _path))
        {
            await using RawConnection client = await ConnectAsync();
            Assert.Equal("poweroff", (string)(await client.RoundTripAsync("""{"op":"stop"}"""))["reason"]!);
            Assert.Equal((MachineState.Running, 1), (paused.State, paused.Presses));
        }

        using ApiServer created = ApiServer.Start(new StandIn { State = MachineState.Created }, _path);
        await using RawConnection second = await ConnectAsync();
        Assert.Equal("""{"ok":false,"error":"op: cannot stop a VM that is created"}""", await AskAsync(second, """{"op":"stop"}"""));
    }

    [Fact]
    public async Task Stop_on_a_vm_already_stopping_answers_how_it_ended_without_a_press()
    {
        var machine = new StandIn();
        machine.RequestStop(new VmOutcome(StopReason.Reset));
        using ApiServer server = ApiServer.Start(machine, _path);
        await using RawConnection client = await ConnectAsync();

        Assert.Equal("""{"ok":true,"state":"stopped","reason":"reset","graceful":false,"after_s":0}""", await AskAsync(client, """{"op":"stop"}"""));
        Assert.Equal(0, machine.Presses);
    }

    [Fact]
    public void Vmm_ctl_waits_for_a_stop_as_long_as_its_timeout_s_and_then_the_usual_10_s()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), VmmCommandLine.ParseCtl(["--socket", "s", "state"]).Timeout);
        Assert.Equal(TimeSpan.FromSeconds(40), VmmCommandLine.ParseCtl(["--socket", "s", "stop"]).Timeout);
        Assert.Equal(TimeSpan.FromSeconds(130), VmmCommandLine.ParseCtl(["--socket", "s", "stop", "timeout_s=120"]).Timeout);
        Assert.Equal(TimeSpan.FromSeconds(3), VmmCommandLine.ParseCtl(["--socket", "s", "--timeout", "3", "stop", "timeout_s=120"]).Timeout);
        // A bad timeout_s is refused by the VMM at once, naming the field.
        Assert.Equal(TimeSpan.FromSeconds(10), VmmCommandLine.ParseCtl(["--socket", "s", "stop", "timeout_s=soon"]).Timeout);
    }

    [Fact]
    public async Task Pausing_a_stopped_vm_is_refused()
    {
        using ApiServer server = ApiServer.Start(new StandIn { State = MachineState.Stopped }, _path);
        await using RawConnection client = await ConnectAsync();

        Assert.Equal("""{"ok":false,"error":"op: cannot pause a VM that is stopped"}""", await AskAsync(client, """{"op":"pause"}"""));
    }

    [Fact]
    public void Vmm_ctl_sends_one_request_and_prints_the_reply()
    {
        var machine = new StandIn();
        using ApiServer server = ApiServer.Start(machine, _path);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        Assert.Equal(ExitCodes.PowerOff, VmmCommandLine.Invoke(["ctl", "--socket", _path, "pause"], stdout, stderr));
        Assert.Equal("paused", (string)JsonNode.Parse(stdout.ToString())!["state"]!);
        Assert.Equal(MachineState.Paused, machine.State);

        machine.State = MachineState.Stopped;
        Assert.Equal(ExitCodes.VmmError, VmmCommandLine.Invoke(["ctl", "--socket", _path, "resume"], stdout, stderr));
        Assert.Equal("vmm ctl: resume: op: cannot resume a VM that is stopped", stderr.ToString().Trim());

        var usage = new StringWriter();
        Assert.Equal(ExitCodes.BadInput, VmmCommandLine.Invoke(["ctl", "state"], stdout, usage));
        Assert.StartsWith("vmm ctl: --socket: required; the path of the VMM's socket", usage.ToString());
    }

    [Fact]
    public async Task The_socket_is_0600_whatever_the_umask()
    {
        using ApiServer server = ApiServer.Start(new StandIn(), _path);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_path));
        await using RawConnection client = await ConnectAsync();
        Assert.Equal(Running, await AskAsync(client, """{"op":"state"}"""));
    }

    [Fact]
    public async Task A_live_socket_of_another_vmm_is_left_alone()
    {
        using ApiServer first = ApiServer.Start(new StandIn(), _path);

        var refused = Assert.Throws<IOException>(() => ApiServer.Start(new StandIn(), _path));

        Assert.Equal($"another process is listening on {_path}; not replacing it (is another VMM using this --api-socket?)", refused.Message);
        await using RawConnection client = await ConnectAsync();
        Assert.Equal(Running, await AskAsync(client, """{"op":"state"}"""));
    }

    [Fact]
    public async Task Vmm_run_on_a_live_socket_exits_2_before_touching_kvm()
    {
        using ApiServer first = ApiServer.Start(new StandIn(), _path);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        int exit = VmmCommandLine.Invoke(["run", "--kernel", "/nonexistent/bzImage", "--api-socket", _path], stdout, stderr);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal($"vmm: --api-socket: another process is listening on {_path}; not replacing it (is another VMM using this --api-socket?)",
            stderr.ToString().Trim());
        await using RawConnection client = await ConnectAsync();
        Assert.Equal(Running, await AskAsync(client, """{"op":"state"}"""));
    }

    [Fact]
    public async Task A_stale_socket_is_replaced_and_a_file_that_is_not_a_socket_is_not()
    {
        // A socket nobody listens on, as a killed VMM leaves (bound elsewhere: Dispose unlinks what it bound).
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixDomainSocketEndPoint(_path + ".dead"));
            File.Move(_path + ".dead", _path);
        }
        using (ApiServer server = ApiServer.Start(new StandIn(), _path))
        {
            await using RawConnection client = await ConnectAsync();
            Assert.Equal(Running, await AskAsync(client, """{"op":"state"}"""));
        }
        Assert.False(File.Exists(_path));

        File.WriteAllText(_path, "not a socket");
        var refused = Assert.Throws<IOException>(() => ApiServer.Start(new StandIn(), _path));
        Assert.Equal($"{_path} exists and is not a socket; not replacing it", refused.Message);
        Assert.Equal("not a socket", File.ReadAllText(_path));
    }

    [Fact]
    public async Task Stopping_leaves_a_socket_that_replaced_ours()
    {
        ApiServer server = ApiServer.Start(new StandIn(), _path);
        File.Delete(_path);
        using ApiServer other = ApiServer.Start(new StandIn(), _path);

        server.Dispose();

        await using RawConnection client = await ConnectAsync();
        Assert.Equal(Running, await AskAsync(client, """{"op":"state"}"""));
    }

    [Fact]
    public async Task The_connection_past_the_cap_is_told_and_closed()
    {
        using ApiServer server = ApiServer.Start(new StandIn(), _path, Limits(maxConnections: 2));
        await using RawConnection first = await ConnectAsync(), second = await ConnectAsync();
        Assert.Equal(Running, await AskAsync(first, """{"op":"state"}"""));
        Assert.Equal(Running, await AskAsync(second, """{"op":"state"}"""));

        await using RawConnection third = await ConnectAsync();

        Assert.Equal("""{"ok":false,"error":"too many connections: 2 already open (the limit); try again later"}""", (await third.ReadReplyAsync())!.ToJsonString());
        Assert.Null(await third.ReadReplyAsync());
        Assert.Equal(2, server.Connections);
        Assert.Equal(Running, await AskAsync(first, """{"op":"state"}"""));
    }

    [Fact]
    public async Task A_stalled_half_request_is_closed_after_the_frame_timeout()
    {
        using ApiServer server = ApiServer.Start(new StandIn(), _path, Limits(frameSeconds: 0.3));
        await using RawConnection client = await ConnectAsync();
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await client.SendAsync(RawConnection.Frame("""{"op":"state"}""")[..6]);

        Assert.Equal("""{"ok":false,"error":"timed out: 6 bytes of a message and no more for 0.3 s (frame timeout)"}""", (await client.ReadReplyAsync())!.ToJsonString());
        Assert.Null(await client.ReadReplyAsync());
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.3), $"closed after {clock.Elapsed}");
    }
}
