// The ACPI tables as a guest sees them: every checksum, every pointer, and an independent decode
// of each table by iasl (ACPICA, the same code Linux runs) with assertions on what it printed.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.RegularExpressions;
using VSwitch.Vmm.Acpi;
using VSwitch.Vmm.Layout;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Acpi;

public sealed class AcpiTablesTests
{
    private static readonly VirtioMmioAcpiDevice[] TwoDevices =
        [new(0xc000_0000, 0x1000, 5), new(0xc000_1000, 0x1000, 6)];

    private static ReadOnlySpan<byte> Table(AcpiTables tables, string signature)
    {
        AcpiTableLocation location = tables.Tables.Single(t => t.Signature == signature);
        return tables.Image.AsSpan(location.Offset, location.Length);
    }

    private static byte Sum(ReadOnlySpan<byte> bytes)
    {
        int sum = 0;
        foreach (byte b in bytes)
            sum += b;
        return (byte)sum;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Every_table_sums_to_zero_and_has_its_length_in_the_header(int vcpus)
    {
        AcpiTables tables = AcpiTables.Build(new AcpiConfig(vcpus, TwoDevices));
        Assert.Equal(["RSDP", "FACS", "DSDT", "APIC", "FACP", "XSDT"], tables.Tables.Select(t => t.Signature));
        foreach (AcpiTableLocation location in tables.Tables)
        {
            ReadOnlySpan<byte> table = tables.Image.AsSpan(location.Offset, location.Length);
            Assert.Equal(location.Signature == "RSDP" ? "RSD " : location.Signature, System.Text.Encoding.ASCII.GetString(table[..4]));
            if (location.Signature is "RSDP")
            {
                Assert.Equal(0, Sum(table[..20]));
                Assert.Equal(0, Sum(table));
                Assert.Equal(36u, BinaryPrimitives.ReadUInt32LittleEndian(table[20..]));
                continue;
            }
            Assert.Equal((uint)location.Length, BinaryPrimitives.ReadUInt32LittleEndian(table[4..]));
            if (location.Signature is not "FACS") // the FACS has no checksum (ACPI 6.4 table 5.14)
                Assert.True(Sum(table) == 0, $"{location.Signature} sums to 0x{Sum(table):x2}");
        }
    }

    [Fact]
    public void Pointers_lead_from_the_rsdp_to_every_table()
    {
        AcpiTables tables = AcpiTables.Build(new AcpiConfig(2));
        Assert.Equal(MemoryLayout.AcpiTables, tables.Address);
        Assert.Equal(0, tables.Tables[0].Offset); // RSDP first: where the guest scans for it
        ulong AddressOf(string signature) => tables.Address + (ulong)tables.Tables.Single(t => t.Signature == signature).Offset;

        ReadOnlySpan<byte> rsdp = Table(tables, "RSDP");
        Assert.Equal(AddressOf("XSDT"), BinaryPrimitives.ReadUInt64LittleEndian(rsdp[24..]));
        ReadOnlySpan<byte> xsdt = Table(tables, "XSDT");
        Assert.Equal([AddressOf("FACP"), AddressOf("APIC")],
            [BinaryPrimitives.ReadUInt64LittleEndian(xsdt[36..]), BinaryPrimitives.ReadUInt64LittleEndian(xsdt[44..])]);
        ReadOnlySpan<byte> fadt = Table(tables, "FACP");
        Assert.Equal(AddressOf("FACS"), BinaryPrimitives.ReadUInt64LittleEndian(fadt[132..]));
        Assert.Equal(AddressOf("DSDT"), BinaryPrimitives.ReadUInt64LittleEndian(fadt[140..]));
        Assert.Equal(0UL, AddressOf("FACS") % 64);
        Assert.All(tables.Tables, t => Assert.Equal(0, t.Offset % 16));
        Assert.True((ulong)tables.Image.Length <= MemoryLayout.AcpiTablesEnd - MemoryLayout.AcpiTables);
    }

    [Fact]
    public void Iasl_builds_the_same_rsdp()
    {
        // This iasl cannot disassemble a lone RSDP, so its data table compiler builds one from the
        // same field values (computing both checksums itself) and the bytes must match.
        AcpiTables tables = AcpiTables.Build(new AcpiConfig(1));
        ReadOnlySpan<byte> rsdp = Table(tables, "RSDP");
        ulong xsdt = BinaryPrimitives.ReadUInt64LittleEndian(rsdp[24..]);
        string source = $"""
            [0008] Signature : "RSD PTR "
            [0001] Checksum : 00
            [0006] Oem ID : "VSWTCH"
            [0001] Revision : 02
            [0004] RSDT Address : 00000000
            [0004] Length : 00000024
            [0008] XSDT Address : {xsdt:X16}
            [0001] Extended Checksum : 00
            [0003] Reserved : 000000
            """;
        Assert.Equal(Iasl.Compile(source, "rsdp"), rsdp.ToArray());
    }

    [Fact]
    public void Iasl_decodes_the_xsdt_with_two_entries()
    {
        AcpiTables tables = AcpiTables.Build(new AcpiConfig(1));
        string dsl = Decode(tables, "XSDT");
        Assert.Contains("\"XSDT\"", dsl);
        Assert.Matches(@"Revision : 01", dsl);
        Assert.Equal(2, Regex.Matches(dsl, @"ACPI Table Address\s+\d+ :").Count);
    }

    [Fact]
    public void Iasl_decodes_the_fadt_with_the_pm1a_blocks_the_fixed_power_button_and_reset_register()
    {
        AcpiTables tables = AcpiTables.Build(new AcpiConfig(1));
        string dsl = Decode(tables, "FACP");
        Assert.Matches(@"Revision : 06", dsl);
        Assert.Matches($@"PM1A Event Block Address : {AcpiPorts.Pm1aEvent:X8}", dsl);
        Assert.Matches($@"PM1A Control Block Address : {AcpiPorts.Pm1aControl:X8}", dsl);
        Assert.Matches(@"PM1 Event Block Length : 04", dsl);
        Assert.Matches(@"PM1 Control Block Length : 02", dsl);
        Assert.Matches($@"Reset Register : \[Generic Address Structure\]\s+\S+ \S+ +\d+\]\s+Space ID : 01 \[SystemIO\]\s+(.*\n){{3}}.*Address : {AcpiPorts.ResetRegister:X16}", dsl);
        Assert.Matches($@"Value to cause reset : {AcpiPorts.ResetValue:X2}", dsl);
        Assert.Matches(@"Reset Register Supported \(V2\) : 1", dsl);
        Assert.Matches(@"Hardware Reduced \(V5\) : 0", dsl);
        Assert.Matches(@"SCI Interrupt : 0009", dsl);
        Assert.Matches(@"SMI Command Port : 00000000", dsl);
        Assert.Matches(@"8042 Present on ports 60/64 \(V2\) : 1", dsl);
        // PWR_BUTTON clear: a fixed power button in PM1 (section 4.8.2.2.1), the one a graceful stop presses; no sleep button.
        Assert.Matches(@"Control Method Power Button \(V1\) : 0", dsl);
        Assert.Matches(@"Control Method Sleep Button \(V1\) : 1", dsl);
    }

    [Fact]
    public void Iasl_decodes_the_facs()
    {
        string dsl = Decode(AcpiTables.Build(new AcpiConfig(1)), "FACS");
        Assert.Contains("\"FACS\"", dsl);
        Assert.Matches(@"Length : 00000040", dsl);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Iasl_decodes_the_madt_with_one_enabled_local_apic_per_vcpu(int vcpus)
    {
        string dsl = Decode(AcpiTables.Build(new AcpiConfig(vcpus)), "APIC");
        Assert.Matches(@"Local Apic Address : FEE00000", dsl);
        MatchCollection apics = Regex.Matches(dsl, @"\[Processor Local APIC\]\s+.*Length : 08\s+.*Processor ID : (\w\w)\s+.*Local Apic ID : (\w\w)\s+.*Flags \(decoded below\) : 00000001");
        Assert.Equal(Enumerable.Range(0, vcpus).Select(i => $"{i:X2}"), apics.Select(m => m.Groups[2].Value));
        Assert.Matches(@"\[I/O APIC\]\s+.*Length : 0C\s+.*I/O Apic ID : 00\s+.*Reserved : 00\s+.*Address : FEC00000\s+.*Interrupt : 00000000", dsl);
        Assert.Matches(@"\[Interrupt Source Override\]\s+.*Length : 0A\s+.*Bus : 00\s+.*Source : 00\s+.*Interrupt : 00000002", dsl);
        Assert.Matches(@"\[Interrupt Source Override\]\s+.*Length : 0A\s+.*Bus : 00\s+.*Source : 09\s+.*Interrupt : 00000009\s+.*Flags \(decoded below\) : 000D", dsl);
        Assert.Matches(@"\[Local APIC NMI\]\s+.*Length : 06\s+.*Processor ID : FF\s+.*\s+.*\s+.*\s+.*Interrupt Input LINT : 01", dsl);
    }

    [Fact]
    public void Iasl_decodes_the_dsdt_with_s5_com1_and_virtio_mmio_devices()
    {
        string dsl = Decode(AcpiTables.Build(new AcpiConfig(1, TwoDevices)), "DSDT");
        Assert.Contains("DefinitionBlock (\"\", \"DSDT\", 2, \"VSWTCH\", \"VSWITCH \", 0x00000001)", dsl);
        Assert.Matches($@"Name \(_S5, Package \(0x04\)[^{{]*\{{\s+0x{AcpiPorts.SleepTypeS5:X2},\s+0x{AcpiPorts.SleepTypeS5:X2},", dsl);
        Assert.Matches(@"Device \(COM1\)\s+\{\s+Name \(_HID, EisaId \(""PNP0501""\)", dsl);
        Assert.Matches(@"IO \(Decode16,\s+0x03F8,\s+// Range Minimum\s+0x03F8,", dsl);
        Assert.Matches(@"IRQNoFlags \(\)\s+\{4\}", dsl);
        MatchCollection virtio = Regex.Matches(dsl,
            @"Name \(_HID, ""LNRO0005""\).*\n.*_UID.*\n.*_CCA, One.*\n.*_CRS.*\n\s*\{\s*Memory32Fixed \(ReadWrite,\s+(0x\w+),\s+// Address Base\s+0x00001000,\s+// Address Length\s+\)\s+Interrupt \(ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, \)\s+\{\s+(0x\w+),");
        Assert.Equal(["0xC0000000", "0xC0001000"], virtio.Select(m => m.Groups[1].Value));
        Assert.Equal(["0x00000005", "0x00000006"], virtio.Select(m => m.Groups[2].Value));
    }

    [Fact]
    public void Without_virtio_devices_the_dsdt_has_none()
    {
        string dsl = Decode(AcpiTables.Build(new AcpiConfig(1)), "DSDT");
        Assert.DoesNotContain("LNRO0005", dsl);
        Assert.Contains("Device (COM1)", dsl);
    }

    [Theory]
    [InlineData(0xb000_0000UL, 0x1000u, 5u, "window")]   // below the MMIO hole: that is RAM
    [InlineData(0xfec0_0000UL, 0x1000u, 5u, "window")]   // on the IOAPIC
    [InlineData(0xc000_0000UL, 0u, 5u, "window")]
    [InlineData(0xc000_0000UL, 0x1000u, 24u, "gsi 24")]
    public void Bad_virtio_devices_are_refused_naming_the_field(ulong address, uint size, uint gsi, string what)
    {
        var e = Assert.Throws<ArgumentException>(() => AcpiTables.Build(new AcpiConfig(1, [new(address, size, gsi)])));
        Assert.Contains("virtio-mmio device 0", e.Message);
        Assert.Contains(what, e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(255)]
    public void Vcpu_count_outside_the_madt_range_is_refused(int vcpus) =>
        Assert.Contains("vcpu count", Assert.Throws<ArgumentException>(() => AcpiTables.Build(new AcpiConfig(vcpus))).Message);

    [Fact]
    public void Power_off_is_slp_en_with_the_s5_type()
    {
        ushort s5 = (ushort)(AcpiPorts.SleepTypeS5 << AcpiPorts.SleepTypeShift);
        Assert.True(AcpiPorts.IsPowerOff((ushort)(s5 | AcpiPorts.SleepEnable)));
        Assert.True(AcpiPorts.IsPowerOff((ushort)(s5 | AcpiPorts.SleepEnable | AcpiPorts.SciEnable)));
        Assert.False(AcpiPorts.IsPowerOff(s5)); // Linux writes SLP_TYP first, then adds SLP_EN
        Assert.False(AcpiPorts.IsPowerOff((ushort)((1 << AcpiPorts.SleepTypeShift) | AcpiPorts.SleepEnable)));
    }

    /// <summary>iasl -d of one table, after checking iasl found nothing wrong with its checksum.</summary>
    private static string Decode(AcpiTables tables, string signature)
    {
        string dsl = Iasl.Disassemble(Table(tables, signature), signature);
        Assert.DoesNotContain("Incorrect checksum", dsl);
        Assert.DoesNotContain("**** ", dsl); // iasl's marker for any header or field it objects to
        return Regex.Replace(dsl, @"[ \t]+", " ");
    }
}
