// Port I/O and MMIO dispatch: claimed ranges reach their device at an offset, everything else
// reads all-ones and is counted, never an error.
using VSwitch.Vmm.Devices.Bus;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Devices;

public class DeviceBusTests
{
    private sealed class Recorder : IBusDevice
    {
        public List<(string, ulong, int)> Accesses { get; } = [];
        public void Read(ulong offset, Span<byte> data) { Accesses.Add(("read", offset, data.Length)); data.Fill(0x11); }
        public void Write(ulong offset, ReadOnlySpan<byte> data) => Accesses.Add(("write", offset, data.Length));
    }

    [Fact]
    public void Accesses_inside_a_range_reach_the_device_at_their_offset()
    {
        var bus = new DeviceBus("pio");
        var device = new Recorder();
        bus.Register(0x3f8, 8, device, "serial");
        Span<byte> data = stackalloc byte[1];
        bus.Read(0x3fd, data);
        bus.Write(0x3f8, [0x41]);
        Assert.Equal([("read", 5UL, 1), ("write", 0UL, 1)], device.Accesses);
        Assert.Equal(0x11, data[0]);
        Assert.Equal((0L, 0L), bus.Unclaimed);
    }

    [Fact]
    public void Unclaimed_reads_give_all_ones_and_are_counted_with_one_log_line_per_address()
    {
        var log = new List<string>();
        var bus = new DeviceBus("pio", log.Add);
        Span<byte> data = stackalloc byte[4];
        bus.Read(0xcfc, data);
        bus.Read(0xcfc, data);
        bus.Write(0x80, [0x00]);
        Assert.Equal(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }, data.ToArray());
        Assert.Equal((2L, 1L), bus.Unclaimed);
        Assert.Equal(2, bus.UnclaimedByAddress[0xcfc]);
        Assert.Equal(2, log.Count);
    }

    [Fact]
    public void A_guest_sweeping_mmio_addresses_grows_the_per_address_counts_only_to_their_bound()
    {
        var bus = new DeviceBus("mmio");
        Span<byte> data = stackalloc byte[4];
        for (ulong address = 0; address < 100_000; address++)
            bus.Read(0xd000_0000 + 4 * address, data);
        bus.Read(0xd000_0000, data); // a tracked address keeps its own count
        Assert.Equal(DeviceBus.TrackedAddresses, bus.UnclaimedByAddress.Count);
        Assert.Equal(2, bus.UnclaimedByAddress[0xd000_0000]);
        Assert.Equal(100_000 - DeviceBus.TrackedAddresses, bus.UntrackedAccesses);
        Assert.Equal((100_001L, 0L), bus.Unclaimed);
    }

    [Fact]
    public void An_access_straddling_the_end_of_a_range_is_not_the_devices()
    {
        var bus = new DeviceBus("pio");
        var device = new Recorder();
        bus.Register(0x600, 4, device, "pm1a");
        Span<byte> data = stackalloc byte[4];
        bus.Read(0x602, data);
        Assert.Empty(device.Accesses);
        Assert.Equal((1L, 0L), bus.Unclaimed);
    }

    [Fact]
    public void Overlapping_ranges_are_refused_with_both_names()
    {
        var bus = new DeviceBus("pio");
        bus.Register(0x60, 5, new Recorder(), "i8042");
        ArgumentException e = Assert.Throws<ArgumentException>(() => bus.Register(0x64, 1, new Recorder(), "other"));
        Assert.Contains("i8042", e.Message);
        Assert.Contains("other", e.Message);
    }
}
