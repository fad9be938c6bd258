// The spec file of `vmm run --spec` and the API's request lines: good input parses, bad input
// names its field.
using System.Text;
using VSwitch.Vmm.Machine;
using VSwitch.Vmm.Spec;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm;

public class VmSpecTests
{
    [Fact]
    public void A_full_spec_becomes_a_machine_with_paths_relative_to_the_file()
    {
        VmSpec spec = VmSpec.Parse("""
            {
              "kernel": "vmlinuz", "initramfs": "/boot/initrd", "cmdline": "console=ttyS0 quiet",
              "memory_mib": 512, "vcpus": 4, "hugepages": true,
              "serial": { "output": "file", "path": "logs/serial.log" }, "api_socket": "vm.sock"
            }
            """, "vm.json", "/srv/vm1");
        MachineConfig config = spec.ToMachineConfig(f => f);
        Assert.Equal("/srv/vm1/vmlinuz", config.KernelPath);
        Assert.Equal("/boot/initrd", config.InitramfsPath);
        Assert.Equal("console=ttyS0 quiet", config.CommandLine);
        Assert.Equal(512, config.MemoryMib);
        Assert.Equal(4, config.Vcpus);
        Assert.True(config.HugePages);
        Assert.Equal(SerialOutputKind.File, config.Serial);
        Assert.Equal("/srv/vm1/logs/serial.log", config.SerialPath);
        Assert.Equal("/srv/vm1/vm.sock", config.ApiSocket);
    }

    [Fact]
    public void Defaults_fill_what_a_minimal_spec_leaves_out()
    {
        MachineConfig config = VmSpec.Parse("""{"kernel": "/k"}""", "vm.json", "/").ToMachineConfig(f => f);
        Assert.Equal(MachineConfig.DefaultMemoryMib, config.MemoryMib);
        Assert.Equal(1, config.Vcpus);
        Assert.Equal(MachineConfig.DefaultCommandLine, config.CommandLine);
        Assert.Equal(SerialOutputKind.Stdout, config.Serial);
        Assert.Null(config.InitramfsPath);
    }

    [Theory]
    [InlineData("""[1]""", "vm.json: must be a JSON object")]
    [InlineData("""{"kernel": 5}""", "vm.json: kernel: must be a string")]
    [InlineData("""{"kernel": ""}""", "vm.json: kernel: must not be empty")]
    [InlineData("""{"kernel": "/k", "hugepages": "yes"}""", "vm.json: hugepages: must be true or false")]
    [InlineData("""{"kernel": "/k", "serial": "stdout"}""", "vm.json: serial: must be an object")]
    [InlineData("""{"kernel": "/k", "serial": {"output": "tty"}}""", "vm.json: serial.output: 'tty' is not one of stdout, file, none")]
    [InlineData("""{"kernel": "/k", "serial": {"output": "none", "path": "/x"}}""", "vm.json: serial.path: only goes with output \"file\"")]
    [InlineData("""{"kernel": "/k", "serial": {"output": "none", "colour": 1}}""", "vm.json: serial.colour: unknown field")]
    [InlineData("""{"kernel": "/k",""", "vm.json: not valid JSON")]
    public void Parse_errors_name_the_field(string json, string expected)
    {
        VmSpecException e = Assert.Throws<VmSpecException>(() => VmSpec.Parse(json, "vm.json", "/"));
        Assert.StartsWith(expected, e.Message);
    }
}
