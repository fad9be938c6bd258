// The PC's CMOS real-time clock (Motorola MC146818A data sheet: "Address Map", registers A-D;
// the PC/AT puts the index register at port 0x70, bit 7 of which gates NMI, and the data at 0x71).
// Linux reads the wall-clock time from it once at boot (arch/x86/kernel/rtc.c mach_get_cmos_time,
// drivers/rtc/rtc-mc146818-lib.c). Without one, the ports float to 0xFF, register A's
// update-in-progress bit reads set forever, and the kernel polls it some twenty thousand times
// ("Unable to read current time from RTC"): under nested virtualisation each poll is a VM exit,
// and they cost seconds of boot. So the clock reports the host's UTC time, never mid-update; the
// rest of the 128 bytes is plain battery RAM. It raises no interrupts (register B keeps them off).
namespace VSwitch.Vmm.Devices.Rtc;

using VSwitch.Vmm.Devices.Bus;

public sealed class CmosRtc(Func<DateTime> utcNow) : IBusDevice
{
    public const ushort BasePort = 0x70;
    public const int PortCount = 2;

    private const int Seconds = 0x00, Minutes = 0x02, Hours = 0x04, DayOfWeek = 0x06;
    private const int DayOfMonth = 0x07, Month = 0x08, Year = 0x09;
    private const int RegisterA = 0x0A, RegisterB = 0x0B, RegisterC = 0x0C, RegisterD = 0x0D;
    /// <summary>The century byte ACPI's FADT CENTURY field conventionally names (0x32 on PCs).</summary>
    private const int Century = 0x32;

    // Register A: UIP clear, 32.768 kHz time base (DV = 010), 1024 Hz rate (RS = 0110).
    private const byte RegisterAValue = 0x26;
    // Register B: 24-hour mode, BCD data (DM = 0), no interrupts, no daylight saving: the PC default.
    private const byte RegisterBValue = 0x02;
    // Register D: VRT, the battery and RAM are good.
    private const byte RegisterDValue = 0x80;
    private const int IndexMask = 0x7F; // bit 7 of the index port is the NMI mask, not address

    private readonly Lock _lock = new();
    private readonly byte[] _ram = new byte[128];
    private int _index;

    public CmosRtc() : this(() => DateTime.UtcNow) { }

    public void Read(ulong offset, Span<byte> data)
    {
        lock (_lock)
            data[0] = offset == 0 ? (byte)_index : Register(_index);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (offset == 0)
                _index = data[0] & IndexMask;
            else if (_index > RegisterD) // time and control registers keep their fixed behaviour
                _ram[_index] = data[0];
        }
    }

    private byte Register(int index)
    {
        DateTime now = utcNow();
        return index switch
        {
            Seconds => Bcd(now.Second),
            Minutes => Bcd(now.Minute),
            Hours => Bcd(now.Hour),
            DayOfWeek => Bcd((int)now.DayOfWeek + 1),
            DayOfMonth => Bcd(now.Day),
            Month => Bcd(now.Month),
            Year => Bcd(now.Year % 100),
            Century => Bcd(now.Year / 100),
            RegisterA => RegisterAValue,
            RegisterB => RegisterBValue,
            RegisterC => 0,
            RegisterD => RegisterDValue,
            _ => _ram[index],
        };
    }

    private static byte Bcd(int value) => (byte)((value / 10 << 4) | (value % 10));
}
