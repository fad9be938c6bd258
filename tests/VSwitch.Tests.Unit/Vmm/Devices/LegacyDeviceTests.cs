// i8042 (reset through the keyboard controller), the ACPI PM1a registers and reset register,
// and the CMOS RTC: the legacy ports Linux touches while it boots and when it powers off.
using VSwitch.Vmm.Acpi;
using VSwitch.Vmm.Devices.AcpiPm;
using VSwitch.Vmm.Devices.I8042;
using VSwitch.Vmm.Devices.Rtc;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Devices;

public class LegacyDeviceTests
{
    private static byte Read(VSwitch.Vmm.Devices.Bus.IBusDevice device, ulong offset)
    {
        Span<byte> data = [0xFF];
        device.Read(offset, data);
        return data[0];
    }

    [Fact]
    public void I8042_passes_its_self_test_and_resets_on_0xfe()
    {
        int resets = 0;
        var i8042 = new I8042Controller(() => resets++);
        i8042.Write(4, [0xAA]);
        Assert.Equal(0x01, Read(i8042, 4) & 0x01); // output buffer full
        Assert.Equal(0x55, Read(i8042, 0));
        Assert.Equal(0x00, Read(i8042, 4) & 0x01);
        Assert.Equal(0, resets);
        i8042.Write(4, [0xFE]);
        Assert.Equal(1, resets);
    }

    [Fact]
    public void I8042_resets_when_the_output_port_reset_line_is_driven_low()
    {
        int resets = 0;
        var i8042 = new I8042Controller(() => resets++);
        i8042.Write(4, [0xD1]);
        i8042.Write(0, [0x01]); // reset line high: nothing
        Assert.Equal(0, resets);
        i8042.Write(4, [0xD1]);
        i8042.Write(0, [0x00]);
        Assert.Equal(1, resets);
    }

    [Fact]
    public void I8042_aux_disable_shows_in_the_command_byte_and_the_keyboard_is_not_locked()
    {
        var i8042 = new I8042Controller(() => { });
        Assert.Equal(0x10, Read(i8042, 4) & 0x10);
        i8042.Write(4, [0xA7]);
        i8042.Write(4, [0x20]);
        Assert.Equal(0x20, Read(i8042, 0) & 0x20);
        i8042.Write(4, [0xA8]);
        i8042.Write(4, [0x20]);
        Assert.Equal(0x00, Read(i8042, 0) & 0x20);
    }

    [Fact]
    public void I8042_command_byte_round_trips()
    {
        var i8042 = new I8042Controller(() => { });
        i8042.Write(4, [0x60]);
        i8042.Write(0, [0x47]);
        i8042.Write(4, [0x20]);
        Assert.Equal(0x47, Read(i8042, 0));
    }

    private static (AcpiPmDevice Pm, List<AcpiPmRequest> Requests) NewPm()
    {
        var requests = new List<AcpiPmRequest>();
        return (new AcpiPmDevice(AcpiPorts.SleepTypeS5, AcpiPorts.ResetValue, requests.Add), requests);
    }

    [Fact]
    public void Pm1_control_s5_with_slp_en_powers_off_and_sci_en_reads_set()
    {
        (AcpiPmDevice pm, List<AcpiPmRequest> requests) = NewPm();
        Assert.Equal(1, Read(pm.ControlBlock, 0) & 1);
        ushort typeOnly = AcpiPorts.SleepTypeS5 << AcpiPorts.SleepTypeShift;
        pm.ControlBlock.Write(0, BitConverter.GetBytes(typeOnly)); // Linux writes SLP_TYP first
        Assert.Empty(requests);
        pm.ControlBlock.Write(0, BitConverter.GetBytes((ushort)(typeOnly | AcpiPorts.SleepEnable)));
        Assert.Equal([AcpiPmRequest.PowerOff], requests);
        Assert.True(AcpiPorts.IsPowerOff((ushort)(typeOnly | AcpiPorts.SleepEnable)));
    }

    [Fact]
    public void Other_sleep_states_are_ignored_and_counted()
    {
        (AcpiPmDevice pm, List<AcpiPmRequest> requests) = NewPm();
        pm.ControlBlock.Write(0, BitConverter.GetBytes((ushort)(3 << AcpiPorts.SleepTypeShift | AcpiPorts.SleepEnable)));
        Assert.Empty(requests);
        Assert.Equal(1, pm.IgnoredSleeps);
    }

    [Fact]
    public void Pm1_enable_bits_read_back_as_written()
    {
        (AcpiPmDevice pm, _) = NewPm();
        pm.EventBlock.Write(2, [0x20, 0x01]); // GBL_EN | PWRBTN_EN
        Span<byte> enable = stackalloc byte[2];
        pm.EventBlock.Read(2, enable);
        Assert.Equal(new byte[] { 0x20, 0x01 }, enable.ToArray());
    }

    [Fact]
    public void The_reset_register_resets_only_on_the_reset_value()
    {
        (AcpiPmDevice pm, List<AcpiPmRequest> requests) = NewPm();
        pm.ResetRegister.Write(0, [0x02]);
        Assert.Empty(requests);
        pm.ResetRegister.Write(0, [AcpiPorts.ResetValue]);
        Assert.Equal([AcpiPmRequest.Reset], requests);
    }

    [Fact]
    public void The_rtc_reports_the_time_in_bcd_and_is_never_mid_update()
    {
        var rtc = new CmosRtc(() => new DateTime(2026, 11, 25, 15, 42, 7, DateTimeKind.Utc));
        byte Register(byte index)
        {
            rtc.Write(0, [(byte)(index | 0x80)]); // bit 7 is the NMI mask, not address
            return Read(rtc, 1);
        }
        Assert.Equal(0x07, Register(0x00));
        Assert.Equal(0x42, Register(0x02));
        Assert.Equal(0x15, Register(0x04));
        Assert.Equal(0x25, Register(0x07));
        Assert.Equal(0x11, Register(0x08));
        Assert.Equal(0x26, Register(0x09));
        Assert.Equal(0x20, Register(0x32));
        Assert.Equal(0x00, Register(0x0A) & 0x80); // UIP clear
        Assert.Equal(0x80, Register(0x0D));        // valid RAM and time
        rtc.Write(0, [0x40]);
        rtc.Write(1, [0x99]);
        Assert.Equal(0x99, Register(0x40));
    }
}
