// Frame specifications for peer.py's agent (built by scapy inside the namespace). Each spec is
// `count` frames with the marker "VSWT[label]<seq>".
using System.Text.Json.Nodes;

namespace VSwitch.Tests.Integration.SystemTests;

public static class FramePlans
{
    public const string Broadcast = "ff:ff:ff:ff:ff:ff";
    public const string BroadcastIpv4 = "255.255.255.255";
    /// <summary>A MAC no VM has: unknown unicast, flooded within the tenant.</summary>
    public const string UnknownMac = "02:00:00:00:09:99";
    /// <summary>An address no VM has: ARP for it is not answered by the responder, so it is flooded.</summary>
    public const string UnknownIpv4 = "10.0.0.99";
    /// <summary>A MAC that belongs to nobody, for forged sources.</summary>
    public const string ForgedMac = "02:00:00:00:0e:ee";

    public static JsonObject Udp(string label, int count, string ethSrc, string ethDst, string ipSrc, string ipDst) => new()
    {
        ["label"] = label,
        ["count"] = count,
        ["kind"] = "udp",
        ["eth_src"] = ethSrc,
        ["eth_dst"] = ethDst,
        ["ip_src"] = ipSrc,
        ["ip_dst"] = ipDst,
        ["udp_port"] = PeerScripts.SinkPort,
    };

    public static JsonObject Udp(string label, int count, Endpoint from, string ethDst, string ipDst) =>
        Udp(label, count, from.Mac, ethDst, from.Ipv4, ipDst);

    public static JsonObject VlanUdp(string label, int count, Endpoint from, string ethDst, string ipDst, int vlan)
    {
        JsonObject spec = Udp(label, count, from, ethDst, ipDst);
        spec["kind"] = "vlan_udp";
        spec["vlan"] = vlan;
        return spec;
    }

    public static JsonObject QinQUdp(string label, int count, Endpoint from, string ethDst, string ipDst, int outerVlan, int innerVlan)
    {
        JsonObject spec = Udp(label, count, from, ethDst, ipDst);
        spec["kind"] = "qinq_udp";
        spec["vlan"] = outerVlan;
        spec["inner_vlan"] = innerVlan;
        return spec;
    }

    /// <param name="op">1 request, 2 reply (RFC 826).</param>
    public static JsonObject Arp(string label, int count, string ethSrc, string ethDst, int op, string senderMac, string senderIp,
        string targetIp, string targetMac = "00:00:00:00:00:00") => new()
    {
        ["label"] = label,
        ["count"] = count,
        ["kind"] = "arp",
        ["eth_src"] = ethSrc,
        ["eth_dst"] = ethDst,
        ["arp_op"] = op,
        ["arp_hwsrc"] = senderMac,
        ["arp_psrc"] = senderIp,
        ["arp_hwdst"] = targetMac,
        ["arp_pdst"] = targetIp,
    };

    /// <summary>A well-formed broadcast ARP request from <paramref name="from"/> for <paramref name="targetIp"/>.</summary>
    public static JsonObject ArpRequest(string label, int count, Endpoint from, string targetIp) =>
        Arp(label, count, from.Mac, Broadcast, 1, from.Mac, from.Ipv4, targetIp);
}
