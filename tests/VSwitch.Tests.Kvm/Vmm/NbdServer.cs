// A real nbd-server (Debian's nbd-server package) exporting one file on a Unix socket, for the
// network volume tests. nbd-server runs as a daemon, with a child process per connection, all
// in the daemon's process group: stopping it kills the group, the way a crashed or restarted
// server drops its clients.
using System.Diagnostics;

namespace VSwitch.Tests.Kvm.Vmm;

public sealed class NbdServer : IAsyncDisposable
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(30);
    private readonly string _config, _pidFile;
    private int _pid;

    public string Socket { get; }
    public string Export { get; }

    /// <summary>The export as vmm's disks[].nbd names it.</summary>
    public string Uri => $"nbd+unix:///{Export}?socket={Socket}";

    private NbdServer(string folder, string file, string export, bool readOnly)
    {
        Socket = Path.Combine(folder, $"{export}.nbd.sock");
        Export = export;
        _config = Path.Combine(folder, $"{export}.nbd-server.conf");
        _pidFile = Path.Combine(folder, $"{export}.nbd-server.pid");
        // trim and flush: the server offers NBD_CMD_TRIM and NBD_CMD_FLUSH (fdatasync on the file).
        File.WriteAllText(_config, $"""
            [generic]
              unixsock = {Socket}
              allowlist = false
            [{export}]
              exportname = {file}
              trim = true
              flush = true
              readonly = {(readOnly ? "true" : "false")}
            """);
    }

    /// <summary>Starts nbd-server exporting <paramref name="file"/> as <paramref name="export"/>; returns once its socket accepts connections.</summary>
    public static async Task<NbdServer> StartAsync(string folder, string file, string export = "vol", bool readOnly = false)
    {
        var server = new NbdServer(folder, file, export, readOnly);
        await server.StartAgainAsync();
        return server;
    }

    public async Task StartAgainAsync()
    {
        File.Delete(_pidFile);
        File.Delete(Socket);
        // The parent exits once the daemon is forked off; the daemon writes its pid and listens. Its
        // output goes to /dev/null: a daemon holding the test's own stdout would keep whatever
        // reads it (a pipe to the runner) open for as long as it lives.
        Run("sh", "-c", "exec nbd-server -C \"$0\" -p \"$1\" </dev/null >/dev/null 2>&1", _config, _pidFile);
        // The pid file may be read half-written ("1" of "1234\n"), and the group of pid 1 is every
        // process: only a whole line naming an nbd-server is ever signalled.
        var clock = Stopwatch.StartNew();
        while (!(File.Exists(Socket) && ReadDaemonPid() is int pid && (_pid = pid) > 0))
        {
            if (clock.Elapsed > StartLimit)
                throw new TimeoutException($"nbd-server -C {_config} did not listen on {Socket} within {StartLimit.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    private int? ReadDaemonPid()
    {
        try
        {
            string line = File.ReadAllText(_pidFile);
            return line.EndsWith('\n') && int.TryParse(line.Trim(), out int pid) && pid > 1 &&
                File.ReadAllText($"/proc/{pid}/comm").Trim() == "nbd-server" ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Kills the daemon and every connection it serves (SIGKILL to its process group), as a crash would.</summary>
    public async Task KillAsync()
    {
        if (_pid <= 1)
            return;
        // "--": procps' kill reads "-KILL -1234" as options and signals another group.
        Run("kill", "-s", "KILL", "--", $"-{_pid}");
        var clock = Stopwatch.StartNew();
        while (IsRunning(_pid) && clock.Elapsed < StartLimit)
            await Task.Delay(10);
        _pid = 0;
    }

    public async ValueTask DisposeAsync() => await KillAsync();

    private static void Run(string file, params string[] args)
    {
        using Process process = Process.Start(new ProcessStartInfo(file, args) { UseShellExecute = false })
            ?? throw new InvalidOperationException($"cannot start {file}");
        if (!process.WaitForExit(StartLimit))
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not end within {StartLimit.TotalSeconds} s");
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}");
    }

    /// <summary>Alive and not a zombie: the daemon's parent is init, which in a container may never reap it.</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
