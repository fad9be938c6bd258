// i8042 (reset through the keyboard controller), the ACPI PM1a registers (with the fixed power
// button and its SCI) and reset register, and the CMOS RTC: the legacy ports Linux touches while
// it boots and when it powers off.
using System.Buffers.Binary;
using CsCheck;
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

    private static (AcpiPmDevice Pm, List<AcpiPmRequest> Requests) NewPm() => NewPm(new FakeInterruptLine());

    private static (AcpiPmDevice Pm, List<AcpiPmRequest> Requests) NewPm(FakeInterruptLine sci)
    {
        var requests = new List<AcpiPmRequest>();
        return (new AcpiPmDevice(AcpiPorts.SleepTypeS5, AcpiPorts.ResetValue, sci, requests.Add), requests);
    }

    /// <summary>PM1_STS and PM1_EN as the guest reads them (a 16-bit read each, as ACPICA makes).</summary>
    private static (ushort Status, ushort Enable) Pm1(AcpiPmDevice pm)
    {
        Span<byte> block = stackalloc byte[4];
        pm.EventBlock.Read(0, block[..2]);
        pm.EventBlock.Read(2, block[2..]);
        return (BinaryPrimitives.ReadUInt16LittleEndian(block), BinaryPrimitives.ReadUInt16LittleEndian(block[2..]));
    }

    private static void Write16(AcpiPmDevice pm, ulong offset, ushort value) => pm.EventBlock.Write(offset, BitConverter.GetBytes(value));

    [Fact]
    public void The_power_button_sets_pwrbtn_sts_and_raises_the_sci_only_once_the_guest_enables_it()
    {
        var sci = new FakeInterruptLine();
        (AcpiPmDevice pm, List<AcpiPmRequest> requests) = NewPm(sci);

        // Pressed before the OS has a handler: pending, no interrupt (ACPICA boots with PWRBTN_EN clear).
        Assert.False(pm.PressPowerButton());
        Assert.Equal((AcpiPorts.PowerButton, (ushort)0), Pm1(pm));
        Assert.Empty(sci.Levels);

        // The button driver sets PWRBTN_EN: the pending press raises the SCI.
        Write16(pm, 2, AcpiPorts.PowerButton);
        Assert.Equal([true], sci.Levels);

        // The handler clears PWRBTN_STS by writing 1 to it: the SCI goes low, the enable stays.
        Write16(pm, 0, AcpiPorts.PowerButton);
        Assert.Equal([true, false], sci.Levels);
        Assert.Equal(((ushort)0, AcpiPorts.PowerButton), Pm1(pm));

        // Pressed with the handler in place: at once.
        Assert.True(pm.PressPowerButton());
        Assert.Equal([true, false, true], sci.Levels);
        Assert.Empty(requests);
    }

    [Fact]
    public void Pm1_status_bits_clear_only_when_1_is_written_to_them_and_the_sci_follows_status_and_enable()
    {
        var sci = new FakeInterruptLine();
        (AcpiPmDevice pm, _) = NewPm(sci);
        Write16(pm, 2, AcpiPorts.PowerButton);
        pm.PressPowerButton();

        Write16(pm, 0, 0); // writing 0 clears nothing
        Write16(pm, 0, unchecked((ushort)~AcpiPorts.PowerButton)); // nor do 1s in the other bits
        pm.EventBlock.Write(0, [0xff]); // the low byte only: PWRBTN_STS is in the high one
        Assert.Equal(AcpiPorts.PowerButton, Pm1(pm).Status);
        Assert.True(sci.Level);

        // PWRBTN_EN off masks the pending press, on again raises it again; a second press while
        // asserted changes nothing (the line is level, not pulsed).
        Write16(pm, 2, 0);
        Assert.False(sci.Level);
        Write16(pm, 2, AcpiPorts.PowerButton);
        Assert.True(sci.Level);
        pm.PressPowerButton();
        Assert.Equal([true, false, true], sci.Levels);

        // A 32-bit write of the whole block: status and enable at once (clear PWRBTN_STS, keep PWRBTN_EN).
        pm.EventBlock.Write(0, BitConverter.GetBytes((uint)AcpiPorts.PowerButton | (uint)AcpiPorts.PowerButton << 16));
        Assert.Equal(((ushort)0, AcpiPorts.PowerButton), Pm1(pm));
        Assert.False(sci.Level);

        // A byte write of the status's high byte clears PWRBTN_STS too.
        pm.PressPowerButton();
        pm.EventBlock.Write(1, [AcpiPorts.PowerButton >> 8]);
        Assert.Equal((ushort)0, Pm1(pm).Status);
        Assert.Equal([true, false, true, false, true, false], sci.Levels);
    }

    [Fact]
    public void Random_guest_writes_to_pm1_never_set_a_status_bit_and_the_sci_always_matches_status_and_enable()
    {
        Gen<(byte Offset, byte Length, uint Value, bool Press)> access =
            from offset in Gen.Byte[0, 3]
            from length in Gen.OneOfConst<byte>(1, 2, 4)
            from value in Gen.Frequency((3, Gen.UInt), (2, Gen.OneOfConst(0u, 0xffff_ffffu, AcpiPorts.PowerButton, (uint)AcpiPorts.PowerButton << 16, 0x0100_0100u)))
            from press in Gen.Frequency((4, Gen.Const(false)), (1, Gen.Const(true)))
            select (offset, (byte)Math.Min(length, 4 - offset), value, press);
        access.Array[1, 64].Sample(accesses =>
        {
            var sci = new FakeInterruptLine();
            (AcpiPmDevice pm, List<AcpiPmRequest> requests) = NewPm(sci);
            bool pressed = false;
            foreach ((byte offset, byte length, uint value, bool press) in accesses)
            {
                if (press)
                {
                    pm.PressPowerButton();
                    pressed = true;
                }
                else
                {
                    ushort before = Pm1(pm).Status;
                    pm.EventBlock.Write(offset, BitConverter.GetBytes(value).AsSpan(0, length));
                    Assert.Equal(0, Pm1(pm).Status & ~before); // write-1-to-clear: nothing set
                }
                (ushort status, ushort enable) = Pm1(pm);
                Assert.Equal(0, status & ~AcpiPorts.PowerButton);
                Assert.True(pressed || status == 0);
                Assert.Equal((status & enable) != 0, sci.Level);
            }
            // Each level change is driven once: the line alternates, never repeats a level.
            Assert.All(sci.Levels.Zip(sci.Levels.Skip(1)), pair => Assert.NotEqual(pair.First, pair.Second));
            Assert.Empty(requests);
        }, iter: 3000);
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
