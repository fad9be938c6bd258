// Test frames built with PacketDotNet, an independent encoder, so the switch's parsers are not
// checked against themselves.
using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;

namespace VSwitch.Tests.Unit.Switching;

internal static class Frames
{
    public static PhysicalAddress Mac(string text) => PhysicalAddress.Parse(text.Replace(':', '-').ToUpperInvariant());

    public static byte[] Udp4(string srcMac, string dstMac, string srcIp, string dstIp, ushort srcPort = 1000, ushort dstPort = 2000, int payload = 18)
    {
        var udp = new UdpPacket(srcPort, dstPort) { PayloadData = new byte[payload] };
        var ip = new IPv4Packet(IPAddress.Parse(srcIp), IPAddress.Parse(dstIp)) { PayloadPacket = udp, TimeToLive = 64 };
        var eth = new EthernetPacket(Mac(srcMac), Mac(dstMac), EthernetType.IPv4) { PayloadPacket = ip };
        ip.UpdateCalculatedValues();
        udp.UpdateCalculatedValues();
        ip.UpdateIPChecksum();
        return eth.Bytes;
    }

    public static byte[] Udp6(string srcMac, string dstMac, string srcIp, string dstIp)
    {
        var udp = new UdpPacket(1000, 2000) { PayloadData = new byte[8] };
        var ip = new IPv6Packet(IPAddress.Parse(srcIp), IPAddress.Parse(dstIp)) { PayloadPacket = udp, HopLimit = 64 };
        var eth = new EthernetPacket(Mac(srcMac), Mac(dstMac), EthernetType.IPv6) { PayloadPacket = ip };
        ip.UpdateCalculatedValues();
        return eth.Bytes;
    }

    public static byte[] ArpRequest(string senderMac, string senderIp, string targetIp, string dstMac = "ff:ff:ff:ff:ff:ff", string? ethSrc = null)
    {
        var arp = new ArpPacket(ArpOperation.Request, Mac("00:00:00:00:00:00"), IPAddress.Parse(targetIp), Mac(senderMac), IPAddress.Parse(senderIp));
        var eth = new EthernetPacket(Mac(ethSrc ?? senderMac), Mac(dstMac), EthernetType.Arp) { PayloadPacket = arp };
        return eth.Bytes;
    }

    public static byte[] Raw(string srcMac, string dstMac, ushort etherType, int payload)
    {
        var eth = new EthernetPacket(Mac(srcMac), Mac(dstMac), (EthernetType)etherType) { PayloadData = new byte[payload] };
        return eth.Bytes;
    }
}
