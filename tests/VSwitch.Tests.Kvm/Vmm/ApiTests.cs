// The VMM's JSON API on a running guest (docs/vmm.md, "API"): pause stops the guest (its serial
// ticks, one every 100 ms, stop coming), resume lets it go on, shutdown ends the VMM cleanly.
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
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

        using var api = new ApiClient(socket);
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

        JsonElement bad = api.Call("""{"op":"reboot"}""");
        Assert.False(bad.GetProperty("ok").GetBoolean());
        Assert.StartsWith("op: 'reboot' is not one of", bad.GetProperty("error").GetString());

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

    /// <summary>Newline-delimited JSON over the Unix socket: one request line, one response line.</summary>
    private sealed class ApiClient : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly StreamReader _reader;
        private readonly NetworkStream _stream;

        public ApiClient(string path)
        {
            _socket.Connect(new UnixDomainSocketEndPoint(path));
            // A VMM that never answers fails the test instead of hanging the lane.
            _socket.ReceiveTimeout = 60_000;
            _stream = new NetworkStream(_socket);
            _reader = new StreamReader(_stream, Encoding.UTF8);
        }

        public JsonElement Call(string request)
        {
            _stream.Write(Encoding.UTF8.GetBytes(request + "\n"));
            string line = _reader.ReadLine() ?? throw new IOException("the VMM closed the API connection");
            return JsonDocument.Parse(line).RootElement.Clone();
        }

        public void Dispose()
        {
            _reader.Dispose();
            _socket.Dispose();
        }
    }
}
