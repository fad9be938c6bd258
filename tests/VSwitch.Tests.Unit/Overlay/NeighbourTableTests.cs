using VSwitch.Dataplane.Overlay.Neighbours;
using VSwitch.Dataplane.Protocols;
using Xunit;
using static VSwitch.Tests.Unit.Overlay.OverlayTopology;
using VSwitch.Dataplane.Collections;
using VSwitch.Dataplane.Spec;

namespace VSwitch.Tests.Unit.Overlay;

public class NeighbourTableTests
{
    private static readonly OverlaySpec s_overlay = Spec.Overlay!;
    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    // Next hops in order: host-b (static), host-c (static), the gateway (for host-d, learned).
    private const int GatewayIndex = 2;

    [Fact]
    public void Next_hops_are_the_on_link_VTEPs_and_the_gateway_for_the_others()
    {
        Assert.Equal([HostB, HostC, Gateway], s_overlay.NextHops().Select(Ipv4.Format));
        var table = new NeighbourTable(s_overlay, S(0));
        Assert.Equal([0x02BB_0000_0002UL, 0x02BB_0000_0003UL, 0UL], table.Macs);
        Assert.Equal([NeighbourState.Static, NeighbourState.Static, NeighbourState.Incomplete], table.Entries(S(0)).Select(e => e.State));
    }

    [Fact]
    public void An_incomplete_entry_is_asked_for_at_most_once_a_second_until_it_resolves()
    {
        var table = new NeighbourTable(s_overlay, S(0));
        Assert.Equal([GatewayIndex], table.Tick(S(0)));
        Assert.Empty(table.Tick(S(0.5)));
        Assert.Equal([GatewayIndex], table.Tick(S(1.0)));
        table.Learn(GatewayIndex, 0x02CC_0000_00FE, S(1.2));
        Assert.Equal(0x02CC_0000_00FEUL, table.Macs[GatewayIndex]);
        NeighbourEntry entry = table.Entries(S(3.2))[GatewayIndex];
        Assert.Equal(NeighbourState.Resolved, entry.State);
        Assert.Equal(S(2), entry.Age);
        Assert.Empty(table.Tick(S(3)));
    }

    [Fact]
    public void A_resolved_entry_is_refreshed_before_it_expires_and_expires_without_a_reply()
    {
        var table = new NeighbourTable(s_overlay, S(0)); // neighbour_timeout_s: 300 (the default)
        table.Learn(GatewayIndex, 0x02CC_0000_00FE, S(0));
        Assert.Empty(table.Tick(S(224)));
        Assert.Equal([GatewayIndex], table.Tick(S(225))); // 3/4 of 300 s: ask again, keep using the MAC
        Assert.Equal(0x02CC_0000_00FEUL, table.Macs[GatewayIndex]);
        Assert.Empty(table.Tick(S(225.5)));
        Assert.Equal([GatewayIndex], table.Tick(S(226)));

        table.Learn(GatewayIndex, 0x02CC_0000_00FF, S(226.1)); // a reply renews it (and may move it)
        Assert.Equal(0x02CC_0000_00FFUL, table.Macs[GatewayIndex]);
        Assert.Empty(table.Tick(S(400)));

        Assert.Equal([GatewayIndex], table.Tick(S(526.1))); // 300 s after the last reply: expired
        Assert.Equal(0UL, table.Macs[GatewayIndex]);
        Assert.Equal(NeighbourState.Incomplete, table.Entries(S(526.1))[GatewayIndex].State);
    }

    [Fact]
    public void Offline_tables_ask_once()
    {
        var table = new NeighbourTable(s_overlay, S(0), TimeSpan.MaxValue);
        Assert.Equal([GatewayIndex], table.Tick(S(0)));
        Assert.Empty(table.Tick(S(1)));
        Assert.Empty(table.Tick(S(3600)));
    }

    [Fact]
    public void Static_entries_never_age_and_ignore_what_is_learned()
    {
        var table = new NeighbourTable(s_overlay, S(0));
        table.Learn(0, 0x0266_0000_0001, S(1));
        Assert.Equal(0x02BB_0000_0002UL, table.Macs[0]);
        Assert.DoesNotContain(0, table.Tick(S(100_000)));
        Assert.Equal(NeighbourState.Static, table.Entries(S(100_000))[0].State);
    }

    [Fact]
    public void The_resolver_learns_from_worker_mailboxes_and_queues_requests_for_worker_0()
    {
        var table = new NeighbourTable(s_overlay, S(0));
        NeighbourMailbox[] mailboxes = [new(), new()];
        using var resolver = new NeighbourResolver(table, mailboxes, 0x02AA_0000_0001, Ipv4.ParseAddress(Vtep), System.Diagnostics.Stopwatch.StartNew());
        resolver.Tick(S(0));
        Assert.True(mailboxes[0].Outbound.TryRead(out ArpFrame frame));
        Assert.False(mailboxes[0].Outbound.TryRead(out _));
        Assert.True(mailboxes[1].Outbound.IsEmpty);
        ReadOnlySpan<byte> bytes = frame;
        Assert.Equal(MacAddress.Broadcast, MacAddress.Read(bytes));
        Assert.Equal(Frames(Switching.Frames.ArpRequest(OurMac, Vtep, Gateway)), bytes.ToArray());

        Assert.True(mailboxes[1].Learned.TryWrite(new LearnedNeighbour(GatewayIndex, 0x02CC_0000_00FE)));
        resolver.Tick(S(0.1));
        Assert.Equal(0x02CC_0000_00FEUL, table.Macs[GatewayIndex]);
        Assert.True(mailboxes[0].Outbound.IsEmpty);
    }

    [Fact]
    public void A_resolver_round_allocates_nothing()
    {
        var table = new NeighbourTable(s_overlay, S(0));
        NeighbourMailbox[] mailboxes = [new()];
        using var resolver = new NeighbourResolver(table, mailboxes, 0x02AA_0000_0001, Ipv4.ParseAddress(Vtep), System.Diagnostics.Stopwatch.StartNew());
        resolver.Tick(S(0));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 1; i <= 100; i++)
        {
            mailboxes[0].Learned.TryWrite(new LearnedNeighbour(GatewayIndex, 0x02CC_0000_00FE));
            resolver.Tick(S(i * 0.1));
            while (mailboxes[0].Outbound.TryRead(out _))
            {
            }
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0x02CC_0000_00FEUL, table.Macs[GatewayIndex]);
    }

    /// <summary>PacketDotNet's 42-byte request, padded to 60 as it goes on the wire.</summary>
    private static byte[] Frames(byte[] request) => [.. request, .. new byte[60 - request.Length]];

    [Fact]
    public void Spsc_ring_is_bounded_and_keeps_order()
    {
        var ring = new SpscRing<int>(4);
        for (int i = 0; i < 4; i++)
            Assert.True(ring.TryWrite(i));
        Assert.False(ring.TryWrite(4));
        for (int i = 0; i < 4; i++)
        {
            Assert.True(ring.TryRead(out int value));
            Assert.Equal(i, value);
        }
        Assert.False(ring.TryRead(out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpscRing<int>(3));
    }
}
