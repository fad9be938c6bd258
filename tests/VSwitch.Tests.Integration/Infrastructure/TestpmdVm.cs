// A VM stand-in on a vhost-user socket: DPDK's dpdk-testpmd with one net_virtio_user port, a
// real virtio-net frontend (the recipe of ../shared/vhost-user.md: --no-huge memory is memfd
// and so shareable with the backend). It is driven interactively over stdin: it sends bursts of
// UDP frames from its own MAC and IPv4 address (txonly's frames, through "start tx_first N"),
// drains its receive ring on demand (rxonly) and reports the port's counters ("show port stats").
// Between commands it does not poll, so idle VMs cost no CPU on these two-core machines.
using System.Text.RegularExpressions;

namespace VSwitch.Tests.Integration.Infrastructure;

/// <summary>One virtio-user port: vswitchd's socket (or with <paramref name="Server"/> the port's own), its MAC, its queue pairs.</summary>
public sealed record VirtioPort(string Socket, string Mac, bool Server = false, int Queues = 1);

public sealed partial class TestpmdVm : IAsyncDisposable
{
    private const string PmdDir = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    private readonly BackgroundProcess _process;
    private int _marks;

    public string Name { get; }

    private TestpmdVm(string name, BackgroundProcess process)
    {
        Name = name;
        _process = process;
    }

    /// <summary>
    /// Starts testpmd with one virtio-user port on <paramref name="socket"/> (vswitchd's server
    /// socket, or with <paramref name="server"/> its own for a client-mode port), with
    /// <paramref name="mac"/> as the port's MAC and <paramref name="ip"/> as the frames' source.
    /// Returns once the port is up.
    /// </summary>
    public static Task<TestpmdVm> StartAsync(string name, string socket, string mac, string ip, string peerMac, string peerIp,
        bool server = false, int queues = 1, string forwardMode = "rxonly") =>
        StartAsync(name, [new VirtioPort(socket, mac, server, queues)], ip, peerMac, peerIp, forwardMode);

    /// <summary>
    /// One testpmd with several virtio-user ports (at most 32: RTE_MAX_ETHPORTS), VMs that share a
    /// process and its memory. Only port 0 sends (from <paramref name="ip"/> to <paramref name="peerMac"/>) and drains.
    /// </summary>
    /// <param name="forwardMode">testpmd's forwarding mode: rxonly (the default), or icmpecho for a VM that answers pings.</param>
    public static async Task<TestpmdVm> StartAsync(string name, IReadOnlyList<VirtioPort> ports, string ip, string peerMac, string peerIp,
        string forwardMode = "rxonly")
    {
        int queues = ports.Max(p => p.Queues);
        var args = new List<string>
        {
            "-oL", "-eL", "dpdk-testpmd",
            "-l", "0,1", "--no-huge", "-m", ports.Count > 1 ? "512" : "256", "--no-pci", "--file-prefix", $"tpmd{name}{Environment.ProcessId}",
            "-d", PmdDir, "--log-level", "pmd.net.virtio.*:error",
        };
        for (int i = 0; i < ports.Count; i++)
        {
            VirtioPort port = ports[i];
            args.AddRange(["--vdev", $"net_virtio_user{i},path={port.Socket},queues={port.Queues},mac={port.Mac}" + (port.Server ? ",server=1" : "")]);
        }
        args.AddRange(["--", "-i", $"--forward-mode={forwardMode}", "--nb-cores=1", $"--rxq={queues}", $"--txq={queues}",
            $"--total-num-mbufs={Math.Max(4096, ports.Count * 512)}", $"--eth-peer=0,{peerMac}", $"--tx-ip={ip},{peerIp}", "--txpkts=64"]);
        var process = BackgroundProcess.Start($"testpmd-{name}", "stdbuf", args, redirectStdin: true);
        var vm = new TestpmdVm(name, process);
        try
        {
            await vm.RunAsync("show port info 0", "Link status:");
            if (ports.Count > 1)
                await vm.RunAsync("set portlist 0", "", optional: true);
        }
        catch
        {
            await vm.DisposeAsync();
            throw;
        }
        return vm;
    }

    /// <summary>Frames per burst that <see cref="SendBurstsAsync"/> sends (testpmd's default burst).</summary>
    public const int Burst = 32;

    /// <summary>Long enough for a drain to empty a 256-descriptor ring many times over.</summary>
    public static readonly TimeSpan DrainTime = TimeSpan.FromMilliseconds(500);

    public int Pid => _process.Pid;

    /// <summary>Sends <paramref name="bursts"/> bursts of 32 frames to the peer MAC and stops: testpmd's tx_first.</summary>
    public async Task SendBurstsAsync(int bursts)
    {
        await RunAsync($"start tx_first {bursts}", "Press enter to exit", optional: true);
        await RunAsync("stop", "Done.");
    }

    /// <summary>Forwards in its mode until stopped (an icmpecho VM answering pings meanwhile).</summary>
    public Task StartForwardingAsync() => RunAsync("start", "", optional: true);

    /// <summary>Switches to forwarding mode <paramref name="mode"/> (txonly: sends to the peer as fast as it can) and starts.</summary>
    public async Task StartForwardingAsync(string mode)
    {
        await RunAsync($"set fwd {mode}", "", optional: true);
        await StartForwardingAsync();
    }

    /// <summary>Stops forwarding.</summary>
    public Task StopForwardingAsync() => RunAsync("stop", "Done.");

    /// <summary>
    /// The layout of the frames it sends from now on: one mbuf segment, and so one virtio
    /// descriptor, per length (testpmd's <c>set txpkts</c>); the frame is their sum.
    /// </summary>
    public Task SetTxSegmentsAsync(params int[] lengths) => RunAsync($"set txpkts {string.Join(',', lengths)}", "", optional: true);

    /// <summary>Points the frames at another MAC.</summary>
    public Task SetPeerAsync(string mac) => _process.WriteLineAsync($"set eth-peer 0 {mac}");

    /// <summary>Takes what waits in the receive ring (rxonly for <paramref name="time"/>), then stops.</summary>
    public async Task DrainAsync(TimeSpan time)
    {
        await RunAsync("start", "rxonly packet forwarding", optional: true);
        await Task.Delay(time);
        await RunAsync("stop", "Done.");
    }

    /// <summary>
    /// Drains the receive queues for <paramref name="time"/> with testpmd printing every frame,
    /// and returns (queue, frame length) of each, in order.
    /// </summary>
    public async Task<IReadOnlyList<(int Queue, int Length)>> ReceiveFramesAsync(TimeSpan time)
    {
        await RunAsync("set verbose 1", "", optional: true);
        int before = _process.Stdout.Length;
        await DrainAsync(time);
        await RunAsync("set verbose 0", "", optional: true);
        var frames = new List<(int, int)>();
        int queue = -1;
        foreach (string line in _process.Stdout[before..].Split('\n'))
        {
            if (ReceivedOnQueue().Match(line) is { Success: true } header)
                queue = int.Parse(header.Groups[1].Value);
            else if (queue >= 0 && FrameLength().Match(line) is { Success: true } frame)
                frames.Add((queue, int.Parse(frame.Groups[1].Value)));
        }
        return frames;
    }

    /// <summary>The port's counters since testpmd started: what the guest received and sent.</summary>
    public async Task<(long Rx, long Tx, long TxErrors)> PortStatsAsync()
    {
        string output = await RunAsync("show port stats 0", "Tx-pps:");
        Match rx = RxPackets().Matches(output).Last(), tx = TxPackets().Matches(output).Last();
        return (long.Parse(rx.Groups[1].Value), long.Parse(tx.Groups[1].Value), long.Parse(tx.Groups[2].Value));
    }

    /// <summary>Kills testpmd as a crashing VM dies: no goodbye to the backend.</summary>
    public async Task KillAsync()
    {
        Signals.Send(_process.Pid, Signals.SIGKILL);
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(10), throwOnTimeout: false);
    }

    public string Describe() => _process.Describe(tail: 4000);

    /// <summary>
    /// Writes <paramref name="command"/> and then a word testpmd does not know, and returns what
    /// the command printed once the unknown word's "Command not found" has appeared: testpmd runs
    /// its commands in order, so the command's output is complete by then.
    /// </summary>
    private async Task<string> RunAsync(string command, string expect, bool optional = false)
    {
        int mark = ++_marks;
        int before = _process.Stdout.Length;
        await _process.WriteLineAsync(command);
        await _process.WriteLineAsync($"vsw-end-of-command-{mark}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (CommandNotFound().Count(_process.Stdout) < mark)
        {
            if (_process.HasExited || clock.Elapsed > CommandTimeout)
                throw new TimeoutException($"{Name}: '{command}' did not finish within {CommandTimeout.TotalSeconds} s\n{Describe()}");
            await Task.Delay(20);
        }
        string output = _process.Stdout[Math.Min(before, _process.Stdout.Length)..];
        if (!optional && !output.Contains(expect))
            throw new InvalidOperationException($"{Name}: '{command}' did not print '{expect}':\n{output}\n{Describe()}");
        return output;
    }

    [GeneratedRegex(@"port 0/queue (\d+): received \d+ packets")]
    private static partial Regex ReceivedOnQueue();

    [GeneratedRegex(@"^\s+src=.* - length=(\d+) - ")]
    private static partial Regex FrameLength();

    [GeneratedRegex("Command not found")]
    private static partial Regex CommandNotFound();

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                await _process.WriteLineAsync("quit");
            }
            catch (IOException)
            {
            }
            await _process.WaitForExitAsync(TimeSpan.FromSeconds(10), throwOnTimeout: false);
        }
        await _process.DisposeAsync();
        // DPDK's runtime folder of this file prefix; --no-huge leaves no hugepage files.
        foreach (string dir in Directory.GetDirectories("/var/run/dpdk", $"tpmd{Name}{Environment.ProcessId}"))
            Directory.Delete(dir, recursive: true);
    }

    [GeneratedRegex(@"RX-packets:\s+(\d+)")]
    private static partial Regex RxPackets();

    [GeneratedRegex(@"TX-packets:\s+(\d+)\s+TX-errors:\s+(\d+)")]
    private static partial Regex TxPackets();
}
