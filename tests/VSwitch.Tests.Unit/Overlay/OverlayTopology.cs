// One host of an overlay, as a config file: red (VNI 5001) with two local VMs and remote VMs on a
// VXLAN host (host-b), a GENEVE host with one critical option (host-c) and a VXLAN host behind the
// gateway whose next hop is unresolved (host-d); blue (VNI 5002) with the same addresses as red.
using System.Buffers.Binary;
using VSwitch.Dataplane.Config;
using VSwitch.Dataplane.Protocols;
using VSwitch.Dataplane.Spec;
using VSwitch.Dataplane.Tables;

namespace VSwitch.Tests.Unit.Overlay;

internal static class OverlayTopology
{
    public const string Vtep = "192.168.50.1", HostB = "192.168.50.2", HostC = "192.168.50.3", HostD = "192.168.60.4", Gateway = "192.168.50.254";
    public const string OurMac = "02:aa:00:00:00:01", NextHopB = "02:bb:00:00:00:02", NextHopC = "02:bb:00:00:00:03";
    public const string RedA = "02:00:00:00:00:01", RedB = "02:00:00:00:00:02", RedC = "02:00:00:00:00:03", RedD = "02:00:00:00:00:04", RedE = "02:00:00:00:00:05";
    public const ushort PortA = 0, PortB = 1, PortBlue = 2, PortUplink = 3;
    public const uint RedVni = 5001, BlueVni = 5002;

    public const string Yaml = """
        dpdk: { eal_args: [] }
        ports:
          - { name: vm-a, devargs: net_null0, mtu: 1450 }
          - { name: vm-b, devargs: net_null1, mtu: 1450 }
          - { name: vm-blue, devargs: net_null2, mtu: 1450 }
          - { name: up0, devargs: net_null3, role: uplink, mtu: 1500 }
        overlay:
          uplink: up0
          vtep: 192.168.50.1/24
          mac: "02:aa:00:00:00:01"
          gateway: 192.168.50.254
          ttl: 32
          static_neighbours:
            - { ip: 192.168.50.2, mac: "02:bb:00:00:00:02" }
            - { ip: 192.168.50.3, mac: "02:bb:00:00:00:03" }
          remote_hosts:
            - { name: host-b, vtep: 192.168.50.2, tunnel: vxlan }
            - name: host-c
              vtep: 192.168.50.3
              tunnel: geneve
              geneve_options:
                - { class: 0x0102, type: 0x80, data: "0011223344556677" }
            - { name: host-d, vtep: 192.168.60.4, tunnel: vxlan }
        tenants:
          - name: red
            vni: 5001
            vms:
              - { name: red-a, port: vm-a, mac: "02:00:00:00:00:01", ipv4: ["10.0.0.1"] }
              - { name: red-b, port: vm-b, mac: "02:00:00:00:00:02", ipv4: ["10.0.0.2"] }
            remote_vms:
              - { name: red-c, host: host-b, mac: "02:00:00:00:00:03", ipv4: ["10.0.0.3"] }
              - { name: red-d, host: host-c, mac: "02:00:00:00:00:04", ipv4: ["10.0.0.4"] }
              - { name: red-e, host: host-d, mac: "02:00:00:00:00:05", ipv4: ["10.0.0.5"] }
          - name: blue
            vni: 5002
            vms:
              - { name: blue-a, port: vm-blue, mac: "02:00:00:00:00:01", ipv4: ["10.0.0.1"] }
            remote_vms:
              - { name: blue-c, host: host-b, mac: "02:00:00:00:00:03", ipv4: ["10.0.0.3"] }
        """;

    public static SwitchSpec Spec => ConfigLoader.Parse(Yaml, ConfigFormat.Yaml).Spec;

    public static SwitchTables Build(SwitchSpec? spec = null, ulong[]? neighbourMacs = null) =>
        SwitchTables.Build(spec ?? Spec, new Dictionary<string, ushort> { ["vm-a"] = PortA, ["vm-b"] = PortB, ["vm-blue"] = PortBlue, ["up0"] = PortUplink },
            1, uplinkMac: 0x02EE_0000_0001, neighbourMacs: neighbourMacs);

    /// <summary>An outer Ethernet/IPv4/UDP frame around <paramref name="tunnel"/> (header and inner frame), checksum computed independently of the switch.</summary>
    public static byte[] Outer(string srcVtep, string dstVtep, ushort dstPort, byte[] tunnel, ushort fragment = 0x4000, byte[]? ipOptions = null, byte protocol = 17)
    {
        ipOptions ??= [];
        int ipHeader = 20 + ipOptions.Length;
        var frame = new byte[14 + ipHeader + 8 + tunnel.Length];
        WriteMac(frame, 0, OurMac);
        WriteMac(frame, 6, NextHopB);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        Span<byte> ip = frame.AsSpan(14);
        ip[0] = (byte)(0x40 | ipHeader / 4);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(ipHeader + 8 + tunnel.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(6), fragment);
        ip[8] = 64;
        ip[9] = protocol;
        System.Net.IPAddress.Parse(srcVtep).GetAddressBytes().CopyTo(ip.Slice(12));
        System.Net.IPAddress.Parse(dstVtep).GetAddressBytes().CopyTo(ip.Slice(16));
        ipOptions.CopyTo(ip.Slice(20));
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), Rfc1071(ip.Slice(0, ipHeader)));
        Span<byte> udp = ip.Slice(ipHeader);
        BinaryPrimitives.WriteUInt16BigEndian(udp, 50000);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(2), dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(4), (ushort)(8 + tunnel.Length));
        tunnel.CopyTo(udp.Slice(8));
        return frame;
    }

    public static byte[] VxlanHeader(uint vni) => [0x08, 0, 0, 0, (byte)(vni >> 16), (byte)(vni >> 8), (byte)vni, 0];

    /// <summary>A GENEVE header with the given raw options (each already encoded) and flags.</summary>
    public static byte[] GeneveHeader(uint vni, byte[] options, byte flags = 0, ushort protocol = 0x6558, int? optLenWords = null, int version = 0) =>
        [(byte)(version << 6 | (optLenWords ?? options.Length / 4)), flags, (byte)(protocol >> 8), (byte)protocol, (byte)(vni >> 16), (byte)(vni >> 8), (byte)vni, 0, .. options];

    public static byte[] GeneveOption(ushort cls, byte type, byte[] data, int? lengthWords = null) =>
        [(byte)(cls >> 8), (byte)cls, type, (byte)(lengthWords ?? data.Length / 4), .. data];

    /// <summary>The agreed host-c option: class 0x0102, type 0x80 (critical), 8 bytes.</summary>
    public static byte[] AgreedOption => GeneveOption(0x0102, 0x80, [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]);

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>RFC 1071's algorithm written out plainly (not the switch's), for independent checks.</summary>
    public static ushort Rfc1071(ReadOnlySpan<byte> data)
    {
        long sum = 0;
        for (int i = 0; i < data.Length; i += 2)
            sum += (data[i] << 8) + (i + 1 < data.Length ? data[i + 1] : 0);
        while (sum >> 16 != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary><paramref name="frame"/> with one byte changed: a field broken after the frame was built.</summary>
    public static byte[] WithByte(byte[] frame, int offset, byte value)
    {
        frame[offset] = value;
        return frame;
    }

    private static void WriteMac(byte[] frame, int offset, string mac) =>
        mac.Split(':').Select(h => Convert.ToByte(h, 16)).ToArray().CopyTo(frame, offset);
}
