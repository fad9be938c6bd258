// Each AML encoding against the bytes iasl 20200925 (acpica-tools) compiles from the ASL in the
// comment (iasl -tc, AML code block), so the encoder agrees with the reference compiler.
using VSwitch.Vmm.Acpi;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Acpi;

public sealed class AmlTests
{
    [Fact]
    public void S5_package_matches_iasl()
    {
        // Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })
        byte[] expected = [0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00];
        Assert.Equal(expected, Aml.Name("_S5", Aml.Package(Aml.Integer(5), Aml.Integer(5), Aml.Integer(0), Aml.Integer(0))));
    }

    [Fact]
    public void Scope_with_a_com1_device_matches_iasl()
    {
        // Scope (\_SB) { Device (COM1) { Name (_HID, EisaId ("PNP0501")) Name (_UID, Zero)
        //   Name (_CRS, ResourceTemplate () { IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08) IRQNoFlags () {4} }) } }
        // (the scope's package length here covers only COM1, so it is one byte shorter than in iasl's
        // two-device block; the device bytes are iasl's verbatim)
        byte[] com1 =
        [
            0x5B, 0x82, 0x2B, 0x43, 0x4F, 0x4D, 0x31, 0x08, 0x5F, 0x48, 0x49, 0x44, 0x0C, 0x41, 0xD0, 0x05, 0x01,
            0x08, 0x5F, 0x55, 0x49, 0x44, 0x00, 0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x10, 0x0A, 0x0D, 0x47, 0x01,
            0xF8, 0x03, 0xF8, 0x03, 0x00, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00,
        ];
        byte[] device = Aml.Device("COM1",
            Aml.Name("_HID", Aml.EisaId("PNP0501")),
            Aml.Name("_UID", Aml.Integer(0)),
            Aml.Name("_CRS", Aml.ResourceTemplate(Aml.Io(0x3f8, 0x3f8, 0, 8), Aml.IrqNoFlags(4))));
        Assert.Equal(com1, device);
        Assert.Equal([0x10, (byte)(1 + 5 + com1.Length), 0x5C, 0x5F, 0x53, 0x42, 0x5F, .. com1], Aml.Scope("\\_SB", device));
    }

    [Fact]
    public void Virtio_mmio_device_matches_iasl()
    {
        // Device (VR00) { Name (_HID, "LNRO0005") Name (_UID, One) Name (_CCA, One)
        //   Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xC0000000, 0x00001000)
        //     Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) {5} }) }
        byte[] expected =
        [
            0x5B, 0x82, 0x41, 0x04, 0x56, 0x52, 0x30, 0x30, 0x08, 0x5F, 0x48, 0x49, 0x44, 0x0D, 0x4C, 0x4E, 0x52,
            0x4F, 0x30, 0x30, 0x30, 0x35, 0x00, 0x08, 0x5F, 0x55, 0x49, 0x44, 0x01, 0x08, 0x5F, 0x43, 0x43, 0x41,
            0x01, 0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x1A, 0x0A, 0x17, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00,
            0xC0, 0x00, 0x10, 0x00, 0x00, 0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79, 0x00,
        ];
        byte[] device = Aml.Device("VR00",
            Aml.Name("_HID", Aml.String("LNRO0005")),
            Aml.Name("_UID", Aml.Integer(1)),
            Aml.Name("_CCA", Aml.Integer(1)),
            Aml.Name("_CRS", Aml.ResourceTemplate(
                Aml.Memory32Fixed(true, 0xc000_0000, 0x1000),
                Aml.Interrupt(edge: true, activeLow: false, shared: false, 5))));
        Assert.Equal(expected, device);
    }

    [Theory]
    // Name (I1, 0x1234) / Name (I2, 0x12345678) / Name (I3, 0x123456789A)
    [InlineData(0x1234UL, new byte[] { 0x0B, 0x34, 0x12 })]
    [InlineData(0x12345678UL, new byte[] { 0x0C, 0x78, 0x56, 0x34, 0x12 })]
    [InlineData(0x123456789AUL, new byte[] { 0x0E, 0x9A, 0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00 })]
    [InlineData(0xFFUL, new byte[] { 0x0A, 0xFF })]
    [InlineData(0UL, new byte[] { 0x00 })]
    [InlineData(1UL, new byte[] { 0x01 })]
    public void Integers_use_the_shortest_encoding(ulong value, byte[] expected) => Assert.Equal(expected, Aml.Integer(value));

    [Fact]
    public void Multi_segment_path_matches_iasl()
    {
        // Name (\_SB.COM1.XYZ, 0xFF)
        byte[] expected = [0x08, 0x5C, 0x2F, 0x03, 0x5F, 0x53, 0x42, 0x5F, 0x43, 0x4F, 0x4D, 0x31, 0x58, 0x59, 0x5A, 0x5F, 0x0A, 0xFF];
        Assert.Equal(expected, Aml.Name("\\_SB.COM1.XYZ", Aml.Integer(0xff)));
        Assert.Equal([0x2E, .. "_SB_COM1"u8.ToArray()], Aml.NameString("_SB.COM1"));
        Assert.Equal([0x5E, 0x5E, .. "ABCD"u8.ToArray()], Aml.NameString("^^ABCD"));
    }

    [Theory]
    // Lengths on each side of the 1/2/3-byte PkgLength boundaries (ACPI 6.4 section 20.2.4).
    [InlineData(62, new byte[] { 63 })]
    [InlineData(63, new byte[] { 0x41, 0x04 })]                // 65 = 0x041: lead 0x40 | 1, then 0x04
    [InlineData(0xFFD, new byte[] { 0x4F, 0xFF })]             // 0xFFF
    [InlineData(0xFFE, new byte[] { 0x81, 0x00, 0x01 })]       // 0x1001
    [InlineData(0xFFFFC, new byte[] { 0x8F, 0xFF, 0xFF })]     // 0xFFFFF
    [InlineData(0xFFFFD, new byte[] { 0xC1, 0x00, 0x00, 0x01 })] // 0x100001
    public void Package_length_grows_at_the_spec_boundaries(int bodyLength, byte[] prefix)
    {
        byte[] encoded = Aml.WithPackageLength(new byte[bodyLength]);
        Assert.Equal(prefix, encoded[..prefix.Length]);
        Assert.Equal(prefix.Length + bodyLength, encoded.Length);
    }

    [Theory]
    [InlineData("1ABC")]
    [InlineData("ABCDE")]
    [InlineData("ab")]
    [InlineData("A.")]
    public void Bad_names_are_refused(string name) => Assert.Throws<ArgumentException>(() => Aml.NameString(name));

    [Theory]
    [InlineData("PNP050")]
    [InlineData("pnp0501")]
    [InlineData("PNP05G1")]
    public void Bad_eisa_ids_are_refused(string id) => Assert.Throws<ArgumentException>(() => Aml.EisaId(id));

    [Fact]
    public void Irq_outside_isa_is_refused() => Assert.Throws<ArgumentOutOfRangeException>(() => Aml.IrqNoFlags(16));
}
