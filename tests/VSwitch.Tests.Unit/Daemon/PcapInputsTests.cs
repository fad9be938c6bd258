using VSwitch.Dataplane.Daemon;
using Xunit;

namespace VSwitch.Tests.Unit.Daemon;

public sealed class PcapInputsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vsw-pcapinputs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Capture(string name, params int[] frameLengths)
    {
        string path = Path.Combine(_dir, name);
        using var file = new BinaryWriter(File.Create(path));
        file.Write(0xA1B2C3D4u); file.Write((ushort)2); file.Write((ushort)4); file.Write(0); file.Write(0u); file.Write(65535u); file.Write(1u);
        foreach (int length in frameLengths)
        {
            file.Write(0u); file.Write(0u); file.Write((uint)length); file.Write((uint)length);
            file.Write(new byte[length]);
        }
        return path;
    }

    [Fact]
    public void Counts_every_record_of_every_rx_capture()
    {
        string a = Capture("a.pcap", 60, 1514, 42);
        string b = Capture("b.pcap", 64);
        Assert.Equal(3, PcapInputs.CountFrames(a));
        Assert.Equal(4, PcapInputs.ExpectedFrames($"net_pcap0,rx_pcap={a},rx_pcap={b},tx_pcap=/dev/null"));
    }

    [Fact]
    public void A_port_without_capture_input_expects_nothing() =>
        Assert.Equal(0, PcapInputs.ExpectedFrames("net_null0,no-rx=1"));

    [Theory]
    [InlineData("net_pcap0,rx_pcap=X,infinite_rx=1")]
    [InlineData("net_af_packet0,iface=veth0")]
    [InlineData("net_pcap0,rx_iface=eth0")]
    public void Endless_inputs_never_drain(string devargs) =>
        Assert.Null(PcapInputs.ExpectedFrames(devargs.Replace("X", Capture("x.pcap", 60))));

    [Fact]
    public void Pcapng_and_truncated_files_are_rejected_by_name()
    {
        string ng = Path.Combine(_dir, "ng.pcap");
        File.WriteAllBytes(ng, [0x0A, 0x0D, 0x0D, 0x0A, .. new byte[28]]);
        Assert.Contains("pcapng", Assert.Throws<InvalidDataException>(() => PcapInputs.CountFrames(ng)).Message);
        string shortFile = Path.Combine(_dir, "short.pcap");
        File.WriteAllBytes(shortFile, new byte[10]);
        Assert.Contains("short.pcap", Assert.Throws<InvalidDataException>(() => PcapInputs.CountFrames(shortFile)).Message);
        string cut = Capture("cut.pcap", 60, 60);
        File.WriteAllBytes(cut, File.ReadAllBytes(cut)[..^10]);
        Assert.Contains("record 2 is cut short", Assert.Throws<InvalidDataException>(() => PcapInputs.CountFrames(cut)).Message);
    }
}
