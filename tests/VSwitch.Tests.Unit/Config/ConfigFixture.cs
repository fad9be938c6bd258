using VSwitch.Dataplane.Config;
using Xunit;

namespace VSwitch.Tests.Unit.Config;

/// <summary>
/// A valid configuration that sets every field, and helpers to break it one value at a time.
/// Values that tests replace are spelled once in the text, so that With() hits the one meant.
/// </summary>
internal static class ConfigFixture
{
    public const string Yaml = """
        dpdk:
          eal_args: ["-l", "0-2", "--no-huge"]
          pmd_dir: /opt/dpdk/pmds
          mbufs: 4095
        workers:
          cores: [1, 2]
          idle_sleep_us: 50
        control_socket: /run/vsw.sock
        ports:
          - name: vm-a
            devargs: net_null0
            mtu: 1500
            queues: 2
          - name: vm-b
            devargs: "net_null1,size=64"
            role: vm
          - name: vm-c
            devargs: net_null2
          - name: up0
            devargs: net_null3
            role: uplink
        tenants:
          - name: red
            vms:
              - name: red-a
                port: vm-a
                mac: "02:00:00:00:00:0a"
                ipv4: ["10.0.0.1", "10.0.0.11"]
                ipv6: ["fd00::1"]
              - name: red-b
                port: vm-b
                mac: "02:00:00:00:00:0b"
                ipv4: ["10.0.0.2"]
                ipv6: ["fd00::2"]
          - name: blue
            vms:
              - name: blue-a
                port: vm-c
                mac: "02:00:00:00:00:0c"
                ipv4: ["10.9.0.1"]
                ipv6: ["fd09::1"]
        flows:
          enabled: true
          table_size: 2048
          top: 5
          sample_rate: 8
        metrics:
          listen: "127.0.0.1:9464"

        """;

    /// <summary>The same configuration as <see cref="Yaml"/>, written by hand rather than converted.</summary>
    public const string Json = """
        {
          "dpdk": { "eal_args": ["-l", "0-2", "--no-huge"], "pmd_dir": "/opt/dpdk/pmds", "mbufs": 4095 },
          "workers": { "cores": [1, 2], "idle_sleep_us": 50 },
          "control_socket": "/run/vsw.sock",
          "ports": [
            { "name": "vm-a", "devargs": "net_null0", "mtu": 1500, "queues": 2 },
            { "name": "vm-b", "devargs": "net_null1,size=64", "role": "vm" },
            { "name": "vm-c", "devargs": "net_null2" },
            { "name": "up0", "devargs": "net_null3", "role": "uplink" }
          ],
          "tenants": [
            { "name": "red", "vms": [
              { "name": "red-a", "port": "vm-a", "mac": "02:00:00:00:00:0a", "ipv4": ["10.0.0.1", "10.0.0.11"], "ipv6": ["fd00::1"] },
              { "name": "red-b", "port": "vm-b", "mac": "02:00:00:00:00:0b", "ipv4": ["10.0.0.2"], "ipv6": ["fd00::2"] }
            ] },
            { "name": "blue", "vms": [
              { "name": "blue-a", "port": "vm-c", "mac": "02:00:00:00:00:0c", "ipv4": ["10.9.0.1"], "ipv6": ["fd09::1"] }
            ] }
          ],
          "flows": { "enabled": true, "table_size": 2048, "top": 5, "sample_rate": 8 },
          "metrics": { "listen": "127.0.0.1:9464" }
        }
        """;

    /// <summary>Replaces the one occurrence of <paramref name="find"/>; fails the test if there is not exactly one.</summary>
    public static string With(this string text, string find, string replacement)
    {
        int at = text.IndexOf(find, StringComparison.Ordinal);
        Assert.True(at >= 0 && text.IndexOf(find, at + 1, StringComparison.Ordinal) < 0, $"'{find}' is not in the text exactly once");
        return string.Concat(text.AsSpan(0, at), replacement, text.AsSpan(at + find.Length));
    }

    /// <summary>The errors that loading the text reports; fails the test if it loads.</summary>
    public static IReadOnlyList<string> ErrorsOf(string text, ConfigFormat format = ConfigFormat.Yaml) =>
        Assert.Throws<ConfigException>(() => ConfigLoader.Parse(text, format)).Errors;
}
