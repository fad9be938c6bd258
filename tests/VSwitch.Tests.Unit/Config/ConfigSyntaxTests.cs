using VSwitch.Dataplane.Config;
using Xunit;
using static VSwitch.Tests.Unit.Config.ConfigFixture;

namespace VSwitch.Tests.Unit.Config;

/// <summary>What the file looks like rather than what it says: syntax, unknown and mistyped fields.</summary>
public class ConfigSyntaxTests
{
    [Theory]
    [InlineData(ConfigFormat.Yaml, "        port: vm-a\n", "        port: vm-a\n        colour: red\n")]
    [InlineData(ConfigFormat.Json, "\"port\": \"vm-a\",", "\"port\": \"vm-a\", \"colour\": \"red\",")]
    public void Unknown_field_is_named_with_its_path(ConfigFormat format, string find, string replacement) =>
        Assert.Equal(
            ["tenants[0].vms[0].colour: unknown field (expected one of: name, port, mac, ipv4, ipv6, allow_routing, flood_rate_pps, flood_burst)"],
            ErrorsOf((format == ConfigFormat.Yaml ? Yaml : Json).With(find, replacement), format));

    [Theory]
    [InlineData("control_socket: /run/vsw.sock\n", "control_socket: /run/vsw.sock\ncontrol_sockets: /tmp/x\n",
        "control_sockets: unknown field (expected one of: dpdk, workers, control_socket, ports, overlay, tenants, control, flows, metrics)")]
    [InlineData("  mbufs: 4095\n", "  mbufs: 4095\n  mbuf_cache: 256\n", "dpdk.mbuf_cache: unknown field (expected one of: eal_args, pmd_dir, mbufs)")]
    [InlineData("  top: 5\n", "  top: 5\n  sample: 10\n", "flows.sample: unknown field (expected one of: enabled, table_size, top, sample_rate)")]
    [InlineData("  idle_sleep_us: 50\n", "  idle_sleep_ms: 1\n", "workers.idle_sleep_ms: unknown field (expected one of: cores, idle_sleep_us)")]
    [InlineData("    queues: 2\n", "    queue: 2\n", "ports[0].queue: unknown field (expected one of: name, devargs, role, mtu, queues, vhost_user)")]
    [InlineData("  - name: blue\n", "  - name: blue\n    vlan: 7\n", "tenants[1].vlan: unknown field (expected one of: name, vni, vms, remote_vms)")]
    public void Unknown_fields_are_rejected_in_every_section(string find, string replacement, string expected) =>
        Assert.Equal([expected], ErrorsOf(Yaml.With(find, replacement)));

    [Fact]
    public void Unknown_keys_that_look_like_paths_are_reported_as_written() =>
        Assert.Equal(
            [
                "ports[0].a[b]: unknown field (expected one of: name, devargs, role, mtu, queues, vhost_user)",
                "ports[0].c[: unknown field (expected one of: name, devargs, role, mtu, queues, vhost_user)",
                "ports[0].d.e[9]: unknown field (expected one of: name, devargs, role, mtu, queues, vhost_user)",
                "tenants[0].vms[1].mac: 'x' is not a MAC address (six hex octets such as 02:00:00:00:00:01)",
            ],
            ErrorsOf(Yaml.With("    queues: 2\n", "    queues: 2\n    \"a[b]\": 1\n    \"c[\": 1\n    d.e[9]: 1\n").With("\"02:00:00:00:00:0b\"", "x")));

    [Theory]
    [InlineData(ConfigFormat.Yaml, "        port: vm-a\n", "        port: vm-a\n        port: vm-b\n")]
    [InlineData(ConfigFormat.Json, "\"port\": \"vm-a\",", "\"port\": \"vm-a\", \"port\": \"vm-b\",")]
    public void Field_given_twice_is_an_error(ConfigFormat format, string find, string replacement) =>
        Assert.Equal(["tenants[0].vms[0].port: is given more than once"],
            ErrorsOf((format == ConfigFormat.Yaml ? Yaml : Json).With(find, replacement), format));

    [Theory]
    [InlineData("mtu: 1500", "mtu: big", "ports[0].mtu: expected an integer, got 'big'")]
    [InlineData("mtu: 1500", "mtu: 1.5", "ports[0].mtu: expected an integer, got '1.5'")]
    [InlineData("mtu: 1500", "mtu: \"1500\"", "ports[0].mtu: expected an integer, got '1500'")]
    [InlineData("mtu: 1500", "mtu: 99999999999", "ports[0].mtu: 99999999999 is out of range")]
    [InlineData("mtu: 1500", "mtu: [1500]", "ports[0].mtu: expected an integer, got a list")]
    [InlineData("cores: [1, 2]", "cores: 1", "workers.cores: expected a list, got '1'")]
    [InlineData("cores: [1, 2]", "cores: [1, two]", "workers.cores[1]: expected an integer, got 'two'")]
    [InlineData("name: up0", "name: {first: up}", "ports[3].name: expected a string, got a mapping")]
    [InlineData("\"10.0.0.2\"", "[10, 0, 0, 2]", "tenants[0].vms[1].ipv4[0]: expected a string, got a list")]
    [InlineData("dpdk:\n", "dpdk: []\nx:\n", "dpdk: expected a mapping, got a list")]
    [InlineData("  - name: up0\n", "  - up0\n  - name: up0\n", "ports[3]: expected a mapping, got 'up0'")]
    [InlineData("    vms:\n      - name: blue-a", "    vms: blue-a\n    x:\n      - name: blue-a", "tenants[1].vms: expected a list, got 'blue-a'")]
    public void Mistyped_value_is_one_error_at_its_path(string find, string replacement, string expected)
    {
        // The replacements that leave lines behind park them under a key "x" of a section
        // reported anyway, so that the document stays valid YAML.
        IReadOnlyList<string> errors = ErrorsOf(Yaml.With(find, replacement));
        Assert.Equal(expected, errors[0]);
        Assert.All(errors.Skip(1), e => Assert.Contains("x: unknown field", e));
    }

    [Theory]
    [InlineData("\"mtu\": 1500", "\"mtu\": \"1500\"", "ports[0].mtu: expected an integer, got '1500'")]
    [InlineData("\"mtu\": 1500", "\"mtu\": true", "ports[0].mtu: expected an integer, got true")]
    [InlineData("\"name\": \"up0\"", "\"name\": 5", "ports[3].name: expected a string, got 5")]
    [InlineData("[\"10.0.0.2\"]", "[7]", "tenants[0].vms[1].ipv4[0]: expected a string, got 7")]
    [InlineData("\"ports\": [", "\"ports\": [ 5,", "ports[0]: expected a mapping, got 5")]
    public void Json_values_keep_their_types(string find, string replacement, string expected) =>
        Assert.Equal([expected], ErrorsOf(Json.With(find, replacement), ConfigFormat.Json));

    [Fact]
    public void Several_errors_are_reported_together_in_file_order()
    {
        string text = Yaml
            .With("\"--no-huge\"]", "\"--no-huge\", \"--vdev=net_null9\"]")
            .With("cores: [1, 2]", "cores: [1, 1]")
            .With("mtu: 1500", "mtu: 67")
            .With("    queues: 2\n", "    queues: 2\n    speed: 10G\n")
            .With("02:00:00:00:00:0b", "02:00:00:00:00:0g")
            .With("name: blue-a", "name: red-a")
            .With("\"fd09::1\"", "\"ff02::1\"");

        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(text, ConfigFormat.Yaml));

        string[] expected =
        [
            "dpdk.eal_args[3]: '--vdev=net_null9' is not allowed: vswitchd adds one --vdev per port, from ports[].devargs",
            "workers.cores[1]: core 1 is already used by workers.cores[0]",
            "ports[0].mtu: 67 is out of range (68..2034)",
            "ports[0].speed: unknown field (expected one of: name, devargs, role, mtu, queues, vhost_user)",
            "tenants[0].vms[1].mac: '02:00:00:00:00:0g' is not a MAC address (six hex octets such as 02:00:00:00:00:01)",
            "tenants[1].vms[0].name: 'red-a' is already used by tenants[0].vms[0].name",
            "tenants[1].vms[0].ipv6[0]: 'ff02::1' is a multicast address (ff00::/8)",
        ];
        Assert.Equal(expected, e.Errors);
        Assert.Equal(string.Join('\n', expected), e.Message);
    }

    [Fact]
    public void A_VM_with_a_bad_MAC_still_has_its_other_fields_checked() =>
        Assert.Equal(
            [
                "tenants[0].vms[1].port: 'vm-z' is not a configured port",
                "tenants[0].vms[1].mac: 'zz' is not a MAC address (six hex octets such as 02:00:00:00:00:01)",
                "tenants[0].vms[1].ipv4[0]: '10.0.0.11' is already used by tenants[0].vms[0].ipv4[1]",
            ],
            ErrorsOf(Yaml.With("port: vm-b", "port: vm-z").With("\"02:00:00:00:00:0b\"", "zz").With("\"10.0.0.2\"", "\"10.0.0.11\"")));

    [Theory]
    // An unterminated quoted string: the parser points at its opening quote.
    [InlineData("        mac: \"02:00:00:00:00:0b\"\n", "        mac: \"02:00:00:00:00:0b\n", "line 32, column 14: ")]
    // Bad indentation.
    [InlineData("    role: uplink\n", "     role: uplink\n", "line 21, column 10: ")]
    // A tab where YAML wants spaces: found while scanning the value on the line before.
    [InlineData("    role: uplink\n", "\trole: uplink\n", "line 20, column ")]
    // An unclosed flow list: YamlDotNet gives no position itself; the last good token stands in.
    [InlineData("cores: [1, 2]", "cores: [1, 2", "line 6, column ")]
    // Tags YamlDotNet cannot name (found by fuzz/run config-yaml): an empty verbatim tag, and a global tag that is no URI;
    // no position either: the key before the tag stands in.
    [InlineData("    role: uplink\n", "    role: !<> uplink\n", "line 21, column 9: ")]
    [InlineData("    role: uplink\n", "    role: !!=[ uplink\n", "line 21, column 9: ")]
    public void Yaml_syntax_error_gives_the_line(string find, string replacement, string expectedStart)
    {
        string error = Assert.Single(ErrorsOf(Yaml.With(find, replacement)));
        Assert.StartsWith(expectedStart, error);
        Assert.Contains(": syntax error", error);
    }

    [Theory]
    [InlineData("\"control_socket\": \"/run/vsw.sock\",", "\"control_socket\": \"/run/vsw.sock\"",
        "line 5, column ", "syntax error: '\"' is invalid after a value. Expected either ',', '}', or ']'.")]
    [InlineData("\"queues\": 2 },", "\"queues\": 2, },",
        "line 6, column ", "syntax error: The JSON object contains a trailing comma at the end which is not supported.")]
    [InlineData("\"ports\": [", "\"ports\": [,", "line 5, column ", "syntax error: ',' is an invalid start of a value.")]
    public void Json_syntax_error_gives_the_line(string find, string replacement, string expectedStart, string expectedEnd)
    {
        string error = Assert.Single(ErrorsOf(Json.With(find, replacement), ConfigFormat.Json));
        Assert.StartsWith(expectedStart, error);
        Assert.EndsWith(expectedEnd, error);
    }

    [Theory]
    [InlineData("%YAML 1.2\n---\ndpdk: {eal_args: []}\n", "line 1: syntax error: a YAML directive ('%' at the start of a line); the configuration takes none")]
    [InlineData("dpdk: {eal_args: []}\n%TAG ! tag:x,2026:", "line 2: syntax error: a YAML directive ('%' at the start of a line); the configuration takes none")]
    [InlineData("dpdk: {eal_args: []}\r%TAG ! tag:x,2026:", "line 2: syntax error: a YAML directive ('%' at the start of a line); the configuration takes none")]
    [InlineData("dpdk: {eal_args: []}\r\n\r\n%TAG ! tag:x,2026:", "line 3: syntax error: a YAML directive ('%' at the start of a line); the configuration takes none")]
    [InlineData("dpdk: {eal_args: []}\u0085%YAML 1.2", "line 2: syntax error: a YAML directive ('%' at the start of a line); the configuration takes none")]
    [InlineData("dpdk: {eal_args: []}\u2028%YAML 1.2", "line 2: syntax error: a YAML directive ('%' at the start of a line); the configuration takes none")]
    public void Yaml_directive_is_refused_before_the_parser_reads_it(string text, string expected) // found by fuzz/run config-yaml
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string error = Assert.Single(ErrorsOf(text));
        Assert.Equal(expected, error);
        // The directive that ended the fuzzer's input kept YamlDotNet's scanner busy for 40-60 s.
        Assert.Equal("line 20: syntax error: a YAML directive ('%' at the start of a line); the configuration takes none",
            Assert.Single(ErrorsOf(System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(Repository.PathOf("fuzz", "crashes-fixed", "config-yaml", "directive-at-end-of-input"))))));
        // The second one hid its '%' behind a lone CR (a line break to YAML) and took 72 s.
        Assert.Equal("line 2: syntax error: a YAML directive ('%' at the start of a line); the configuration takes none",
            Assert.Single(ErrorsOf(System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(Repository.PathOf("fuzz", "crashes-fixed", "config-yaml", "directive-after-a-lone-cr"))))));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{clock.Elapsed.TotalSeconds:F1} s");
    }

    [Theory]
    [InlineData(64, null)]
    [InlineData(65, "line 1, column 65: syntax error: lists and mappings nest deeper than 64 levels")]
    [InlineData(28871, "line 1, column 65: syntax error: lists and mappings nest deeper than 64 levels")] // found by fuzz/run config-yaml: a stack overflow
    public void Yaml_nesting_is_bounded_as_JSON_nesting_is(int depth, string? expected)
    {
        string text = new string('[', depth) + new string(']', depth);
        IReadOnlyList<string> errors = ErrorsOf(text);
        if (expected is null)
            Assert.DoesNotContain(errors, e => e.Contains("nest", StringComparison.Ordinal));
        else
            Assert.Equal(expected, errors[0]);
    }

    [Fact]
    public void Json_escaped_surrogate_without_its_pair_is_a_syntax_error() // found by fuzz/run config-json
    {
        string error = Assert.Single(ErrorsOf(Json.With("\"control_socket\"", "\"control_socket\\ud800\""), ConfigFormat.Json));
        Assert.Equal("syntax error: Cannot read incomplete UTF-16 JSON text as string with missing low surrogate.", error);
    }

    [Theory]
    [InlineData(ConfigFormat.Yaml, "", "the file is empty")]
    [InlineData(ConfigFormat.Yaml, "# only a comment\n", "the file is empty")]
    [InlineData(ConfigFormat.Yaml, "- dpdk\n", "expected a mapping, got a list")]
    [InlineData(ConfigFormat.Yaml, "---\n", "expected a mapping, got null")]
    [InlineData(ConfigFormat.Yaml, "dpdk: {eal_args: []}\n---\ndpdk: {eal_args: []}\n", "line 2: syntax error: a second YAML document; the file must hold exactly one")]
    [InlineData(ConfigFormat.Json, "[]", "expected a mapping, got a list")]
    [InlineData(ConfigFormat.Json, "", "line 1, column 1: syntax error: The input does not contain any JSON tokens.")]
    public void Whole_file_errors(ConfigFormat format, string text, string expectedStart) =>
        Assert.StartsWith(expectedStart, Assert.Single(ErrorsOf(text, format)));

    [Fact]
    public void Yaml_anchors_and_aliases_are_followed()
    {
        string text = "dpdk: {eal_args: &args [\"--no-huge\"]}\nports:\n  - &port {name: p0, devargs: net_null0}\n";
        Assert.Equal(["--no-huge"], ConfigLoader.Parse(text, ConfigFormat.Yaml).EalArgs);
        Assert.StartsWith("line 1, column ", Assert.Single(ErrorsOf("dpdk: {eal_args: *nowhere}\n")));
    }
}
