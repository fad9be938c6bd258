// The VMM's vhost-user frontend (src/Vmm/VhostUser) against the backend it is built for: a real
// vswitchd whose VM ports connect in client mode to sockets the VMM serves. The guests' drivers
// are played by GuestNic over real shared memory, so what is checked is what a guest would see:
// frames on its receive ring, its transmit chains returned, its link going down and up.
//   red:  a 02:..:01 10.0.0.1 (vh-a), b 02:..:02 10.0.0.2 (vh-b)
//   blue: c 02:..:02 10.0.0.2 (vh-c): b's MAC and address in another tenant
using VSwitch.Tests.Integration.Dataplane;
using VSwitch.Tests.Integration.Infrastructure;
using VSwitch.Tests.Unit.Vmm.Virtio;
using Xunit;
using static VSwitch.Tests.Integration.Dataplane.RunningOverlayTests;

namespace VSwitch.Tests.Integration.Vmm;

public sealed class VhostUserFrontendTests() : RunningVswitchd("vmmvhost", TimeSpan.FromSeconds(60))
{
    private const string IpA = "10.0.0.1", IpB = "10.0.0.2";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    private string Socket(string port) => Path.Combine(_dir, $"{port}.sock");

    private VswitchdConfig Config => new(_prefix,
        [
            VswitchdPort.Vhost("vh-a", Socket("vh-a"), mode: "client"),
            VswitchdPort.Vhost("vh-b", Socket("vh-b"), mode: "client"),
            VswitchdPort.Vhost("vh-c", Socket("vh-c"), mode: "client"),
        ],
        [
            new("red", [new("a", "vh-a", MacA, [IpA]), new("b", "vh-b", MacB, [IpB])]),
            new("blue", [new("c", "vh-c", MacB, [IpB])]),
        ]);

    public override async ValueTask InitializeAsync() => await StartAsync(Config);

    private static byte[][] Frames(string src, string dst, string srcIp, string dstIp, int count, ushort firstPort) =>
        [.. Enumerable.Range(0, count).Select(i => Udp(src, dst, srcIp, dstIp, (ushort)(firstPort + i), payload: 18 + i))];

    /// <summary>Guests a, b and c on their sockets, each with 16 receive buffers, once vswitchd serves all three.</summary>
    private async Task<(GuestNic A, GuestNic B, GuestNic C)> StartThreeGuestsAsync()
    {
        GuestNic[] guests = [new(Socket("vh-a")), new(Socket("vh-b")), new(Socket("vh-c"))];
        try
        {
            foreach (GuestNic guest in guests)
                guest.Start(rxBuffers: 16);
            Assert.All(guests, guest => Assert.True(guest.WaitLink(up: true, connections: 1, s_wait), guest.Log));
            await VhostState.WaitAsync(Request, ("vh-a", 1), ("vh-b", 1), ("vh-c", 1));
            return (guests[0], guests[1], guests[2]);
        }
        catch
        {
            foreach (GuestNic guest in guests)
                guest.Dispose();
            throw;
        }
    }

    [Fact]
    public async Task Frames_go_from_one_guests_transmit_ring_to_anothers_receive_ring_and_never_to_another_tenant()
    {
        (GuestNic a, GuestNic b, GuestNic c) = await StartThreeGuestsAsync();
        using var _a = a;
        using var _b = b;
        using var _c = c;

        byte[][] toB = Frames(MacA, MacB, IpA, IpB, 8, 1000);
        foreach (byte[] frame in toB)
            a.Send(frame);
        List<(uint Head, byte[] Frame)> atB = b.Receive(toB.Length, s_wait);
        Assert.Equal(toB, atB.Select(f => f.Frame));
        Assert.True(a.WaitTxUsed(toB.Length, s_wait), $"a's transmit ring returned {a.TxUsed} of {toB.Length} chains");

        byte[][] toA = Frames(MacB, MacA, IpB, IpA, 4, 2000);
        foreach (byte[] frame in toA)
            b.Send(frame);
        Assert.Equal(toA, a.Receive(toA.Length, s_wait).Select(f => f.Frame));

        await CountersAfter(12);
        Assert.Empty(c.Receive(0, TimeSpan.Zero)); // b's MAC and address, but blue: nothing of red's
        Assert.Equal(0, c.RxUsed);
        Assert.Equal([true], b.LinkChanges);
    }

    [Fact]
    public async Task A_killed_vswitchd_comes_back_to_the_same_rings_and_no_descriptor_is_lost_or_used_twice()
    {
        using var a = new GuestNic(Socket("vh-a"));
        using var b = new GuestNic(Socket("vh-b"));
        a.Start(rxBuffers: 16);
        b.Start(rxBuffers: 16);
        Assert.True(b.WaitLink(up: true, connections: 1, s_wait), b.Log + "\n" + _vswitchd!.Log);
        Assert.True(a.WaitLink(up: true, connections: 1, s_wait), a.Log);
        // The frontend's link goes up at the backend's last reply, before DPDK's new_device has
        // the port polled: a frame switched to b in between would be dropped, so wait for vswitchd too.
        await VhostState.WaitAsync(Request, ("vh-a", 1), ("vh-b", 1));
        byte[][] before = Frames(MacA, MacB, IpA, IpB, 4, 3000);
        foreach (byte[] frame in before)
            a.Send(frame);
        List<(uint Head, byte[] Frame)> first = b.Receive(before.Length, s_wait);
        Assert.True(a.WaitTxUsed(before.Length, s_wait));
        foreach (GuestNic guest in new[] { a, b })
            guest.TakeInterrupts();

        await _vswitchd!.KillAsync();
        await _vswitchd.DisposeAsync();
        _vswitchd = null;
        Assert.True(b.WaitLink(up: false, connections: 1, s_wait), "the guest's link did not go down with vswitchd");
        await StartAsync(Config);
        Assert.True(b.WaitLink(up: true, connections: 2, s_wait), "vswitchd did not come back to b's socket");
        Assert.True(a.WaitLink(up: true, connections: 2, s_wait), "vswitchd did not come back to a's socket");
        await VhostState.WaitAsync(Request, ("vh-a", 1), ("vh-b", 1)); // the new vswitchd's first connections
        // Nothing moved since the kill, yet each ring got one interrupt at the reconnect: the one
        // a backend killed between returning chains and signalling would have owed the guest.
        Assert.Equal((1ul, 1ul), a.TakeInterrupts());
        Assert.Equal((1ul, 1ul), b.TakeInterrupts());

        byte[][] after = Frames(MacA, MacB, IpA, IpB, 4, 4000);
        foreach (byte[] frame in after)
            a.Send(frame);
        List<(uint Head, byte[] Frame)> second = b.Receive(after.Length, s_wait);

        Assert.Equal([.. before, .. after], first.Concat(second).Select(f => f.Frame));
        // The new backend resumed at used.idx 4: descriptors 4-7 next, none of 0-3 again.
        Assert.Equal([0u, 1, 2, 3, 4, 5, 6, 7], first.Concat(second).Select(f => f.Head));
        Assert.True(a.WaitTxUsed(before.Length + after.Length, s_wait));
        Assert.Equal(8, a.TxUsed);
        Assert.Equal([true, false, true], b.LinkChanges);
    }

    [Fact]
    public async Task DPDKs_reference_backend_testpmd_net_vhost_in_client_mode_serves_the_same_rings()
    {
        // testpmd's net_vhost,client=1 connects to the frontend's socket like vswitchd does, and
        // in macswap mode sends each frame back on the port it came from, MACs swapped.
        string socket = Path.Combine(_dir, "testpmd.sock");
        using var guest = new GuestNic(socket);
        guest.Start(rxBuffers: 16);
        await using BackgroundProcess testpmd = BackgroundProcess.Start("testpmd-vhost", "stdbuf",
            ["-oL", "-eL", "dpdk-testpmd", "-l", "0,1", "--no-huge", "-m", "256", "--no-pci", "--file-prefix", $"tpvh{Environment.ProcessId}",
             "-d", "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0", "--vdev", $"net_vhost0,iface={socket},client=1",
             "--", "-i", "--forward-mode=macswap", "--nb-cores=1", "--total-num-mbufs=4096", "--no-flush-rx"], redirectStdin: true);
        // "Done" ends testpmd's link check; its prompt comes without a newline, so no line to wait for.
        await testpmd.WaitForLineAsync(l => l.Trim() == "Done", s_wait, "testpmd's port start");
        // "start" flushes the receive queues first (unless --no-flush-rx): frames sent before it
        // finishes would be thrown away, so wait for its report of the forwarding streams.
        await testpmd.WriteLineAsync("start");
        await testpmd.WaitForLineAsync(l => l.Contains("TX RS bit threshold"), s_wait, "testpmd's forwarding start");
        Assert.True(guest.WaitLink(up: true, connections: 1, s_wait), guest.Log + "\n" + testpmd.Describe());

        byte[][] frames = Frames(MacA, MacB, IpA, IpB, 4, 5000);
        foreach (byte[] frame in frames)
            guest.Send(frame);
        List<(uint Head, byte[] Frame)> back = guest.Receive(frames.Length, s_wait);
        Assert.True(back.Count == frames.Length, $"{back.Count} of {frames.Length} frames came back\n{testpmd.Describe()}");
        for (int i = 0; i < frames.Length; i++)
        {
            byte[] swapped = [.. frames[i][6..12], .. frames[i][..6], .. frames[i][12..]];
            Assert.Equal(swapped, back[i].Frame);
        }
        Assert.True(guest.WaitTxUsed(frames.Length, s_wait));
    }

    [Fact]
    public async Task Hostile_chains_on_one_guests_transmit_ring_harm_neither_vswitchd_nor_the_other_guests()
    {
        (GuestNic a, GuestNic b, GuestNic c) = await StartThreeGuestsAsync();
        using var _a = a;
        using var _b = b;
        using var _c = c;

        // c (blue) posts: a loop, a next past the ring, buffers past the top of its 1 MiB of RAM,
        // wrapping at 2^64 and longer than 4 GiB, and an indirect table it never negotiated.
        c.SendHostile(q =>
        {
            q.Descriptor(0, 0x4_0000, 64, DriverQueue.Next, 1);
            q.Descriptor(1, 0x4_0800, 64, DriverQueue.Next, 0);
            q.Descriptor(2, 0x4_1000, 64, DriverQueue.Next, GuestNic.QueueSize);
            q.Descriptor(3, 0x10_0000, 64);
            q.Descriptor(4, 0xf_fff0, 64);
            q.Descriptor(5, ulong.MaxValue - 15, 64);
            q.Descriptor(6, 0x4_1800, uint.MaxValue);
            q.Descriptor(7, 0x4_2000, 48, DriverQueue.Indirect);
        }, 0, 2, 3, 4, 5, 6, 7);

        // Red's traffic still moves, whole, both ways.
        byte[][] toB = Frames(MacA, MacB, IpA, IpB, 8, 6000);
        foreach (byte[] frame in toB)
            a.Send(frame);
        Assert.Equal(toB, b.Receive(toB.Length, s_wait).Select(f => f.Frame));
        byte[][] toA = Frames(MacB, MacA, IpB, IpA, 4, 7000);
        foreach (byte[] frame in toA)
            b.Send(frame);
        Assert.Equal(toA, a.Receive(toA.Length, s_wait).Select(f => f.Frame));
        // vswitchd is up and answers; nothing of c's reached red.
        System.Text.Json.Nodes.JsonObject counters = await CountersAfter(12);
        Assert.Equal(0UL, (ulong)counters["ports"]!["vh-a"]!["tx"]! - (ulong)toA.Length);
        Assert.Equal((ulong)toB.Length, (ulong)counters["ports"]!["vh-b"]!["tx"]!);
        Assert.Equal(0, a.RxUsed - toA.Length);
    }
}
