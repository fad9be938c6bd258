// The VMM's API on a running guest (docs/vmm.md, "API"): pause stops the guest (its serial
// ticks, one every 100 ms, stop coming), resume lets it go on, shutdown ends the VMM cleanly.
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using Xunit;

namespace VSwitch.Tests.Kvm.Vmm;

public class ApiTests
{
    private static readonly TimeSpan BootLimit = TimeSpan.FromSeconds(240);

    [Fact]
    public void Pause_holds_the_guest_resume_releases_it_and_shutdown_ends_the_vmm()
    {
        string nonce = BootTests.NewNonce();
        using VmmProcess vmm = StartWaitingGuest(nonce, out string socket);
        vmm.WaitForSerialLine(l => l.StartsWith($"VSWITCH-GUEST-READY nonce={nonce} "), BootLimit);
        vmm.WaitForSerialLine(l => l == "VSWITCH-GUEST-TICK 3", TimeSpan.FromSeconds(60));

        using var api = new VmmApiClient(socket);
        Assert.Equal("running", api.Call("""{"op":"state"}""").GetProperty("state").GetString());

        JsonElement paused = api.Call("""{"op":"pause"}""");
        Assert.True(paused.GetProperty("ok").GetBoolean(), paused.ToString());
        Assert.Equal("paused", paused.GetProperty("state").GetString());
        int ticksAtPause = Ticks(vmm.Serial);
        // 100 ms per tick: in 2 s a running guest prints about 20 (a slow nested one at least a few).
        Thread.Sleep(2000);
        Assert.Equal("paused", api.Call("""{"op":"state"}""").GetProperty("state").GetString());
        Assert.Equal(ticksAtPause, Ticks(vmm.Serial));

        JsonElement resumed = api.Call("""{"op":"resume"}""");
        Assert.Equal("running", resumed.GetProperty("state").GetString());
        vmm.WaitForSerialLine(l => l == $"VSWITCH-GUEST-TICK {ticksAtPause + 3}", TimeSpan.FromSeconds(60));

        // The guest's ticks went out through COM1: port I/O exits, counted on its one vCPU; no NIC.
        JsonElement stats = api.Call("""{"op":"stats"}""");
        Assert.Equal(1, stats.GetProperty("vcpus").GetArrayLength());
        Assert.True(stats.GetProperty("vcpus")[0].GetProperty("exits").GetProperty("port_io").GetInt64() > ticksAtPause, stats.ToString());
        Assert.Equal(0, stats.GetProperty("nics").GetArrayLength());

        // The same as Prometheus families: the vCPU ran, and its serial output is counted byte for byte.
        long logged = new FileInfo(vmm.SerialLog).Length; // before the call: the guest goes on printing
        JsonElement metrics = api.Call("""{"op":"metrics"}""").GetProperty("metrics");
        double Sample(string family, string? label = null, string? value = null) => metrics.EnumerateArray()
            .Single(f => f.GetProperty("name").GetString() == family).GetProperty("samples").EnumerateArray()
            .Single(s => label is null || s.GetProperty("labels").GetProperty(label).GetString() == value).GetProperty("value").GetDouble();
        double ran = Sample("vmm_vcpu_run_seconds_total");
        Assert.True(ran is > 0 and < 600, $"vCPU 0 ran {ran} s");
        Assert.True(Sample("vmm_vcpu_exits_total", "reason", "port_io") > ticksAtPause, metrics.ToString());
        Assert.True(Sample("vmm_serial_transmitted_bytes_total") >= logged && logged > 0, $"serial log {logged} B\n{metrics}");

        JsonElement bad = api.Call("""{"op":"reboot"}""");
        Assert.False(bad.GetProperty("ok").GetBoolean());
        Assert.Equal("unknown op 'reboot' (expected state, pause, resume, stop, shutdown, stats, metrics)", bad.GetProperty("error").GetString());

        Assert.True(api.Call("""{"op":"shutdown"}""").GetProperty("ok").GetBoolean());
        int exitCode = vmm.WaitForExit(TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, $"vmm exit {exitCode}\nstderr:\n{vmm.Stderr}");
        Assert.Contains("reason=shutdown exit=0", vmm.Stderr);
        Assert.False(File.Exists(socket), "the API socket file outlived the VM");
    }

    private static VmmProcess StartWaitingGuest(string nonce, out string socket)
    {
        socket = Path.Combine(Path.GetTempPath(), $"vmm-api-{nonce}.sock");
        return VmmProcess.Start("--kernel", GuestImages.Kernel, "--initramfs", GuestImages.Initramfs,
            "--cmdline", BootTests.CommandLine(nonce, "vsw.wait=1"), "--memory-mib", "256", "--api-socket", socket);
    }

    /// <summary>Complete tick lines (the text after the last newline may be a line still being written).</summary>
    private static int Ticks(string serial) =>
        serial.Split('\n')[..^1].Count(l => l.StartsWith("VSWITCH-GUEST-TICK ", StringComparison.Ordinal));
}
