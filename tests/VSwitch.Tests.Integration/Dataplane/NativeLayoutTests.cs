// Pins the DPDK struct layouts vswitchd reads from C#: the shim reports them from the headers it
// was compiled against, and these are the values of DPDK 22.11 on x86-64 (rte_mbuf_core.h,
// rte_ethdev.h). A DPDK upgrade that moves a field fails here first, not in the packet path.
using System.Runtime.CompilerServices;
using VSwitch.Dataplane.Interop;
using VSwitch.Dataplane.Tables;
using Xunit;

namespace VSwitch.Tests.Integration.Dataplane;

public class NativeLayoutTests
{
    [Fact]
    public void Managed_layout_struct_is_the_size_the_shim_compiled() =>
        Assert.Equal(Interop.vsw_layout_size(), (uint)Unsafe.SizeOf<NativeLayout>());

    [Fact]
    public void Mbuf_fields_are_where_DPDK_22_11_puts_them()
    {
        NativeLayout l = Mbuf.Layout;
        Assert.Equal(NativeLayout.ExpectedVersion, l.Version);
        Assert.Equal(
            (128u, 0u, 16u, 18u, 20u, 22u, 24u, 36u, 40u, 44u, 54u, 64u, 128u),
            (l.MbufSize, l.MbufBufAddr, l.MbufDataOff, l.MbufRefcnt, l.MbufNbSegs, l.MbufPort, l.MbufOlFlags,
             l.MbufPktLen, l.MbufDataLen, l.MbufHashRss, l.MbufBufLen, l.MbufNext, l.PktmbufHeadroom));
    }

    [Fact]
    public void Ethdev_structs_are_where_DPDK_22_11_puts_them()
    {
        NativeLayout l = Mbuf.Layout;
        Assert.Equal((2272u, 376u, 44u, 46u, 22u), (l.EthConfSize, l.EthDevInfoSize, l.DevInfoMaxRxQueues, l.DevInfoMaxTxQueues, l.DevInfoMaxMtu));
        Assert.Equal((704u, 0u, 8u, 32u, 40u, 48u, 56u),
            (l.EthStatsSize, l.EthStatsIpackets, l.EthStatsOpackets, l.EthStatsImissed, l.EthStatsIerrors, l.EthStatsOerrors, l.EthStatsRxNombuf));
    }

    [Fact]
    public void Port_arrays_are_sized_for_every_port_DPDK_can_create() =>
        Assert.Equal((uint)SwitchTables.MaxEthPorts, Mbuf.Layout.MaxEthPorts);
}
