// The spec file of `vmm run --spec` and the API's request lines: good input parses, bad input
// names its field.
using System.Text;
using VSwitch.Vmm.Machine;
using VSwitch.Vmm.Spec;
using VSwitch.Vmm.Volumes.Pool;
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
    public void Nics_come_in_slot_order_with_their_sockets_relative_to_the_file()
    {
        MachineConfig config = VmSpec.Parse("""
            {"kernel": "/k", "nics": [
              {"socket": "net0.sock", "mac": "02:00:00:00:00:0A", "mtu": 9000, "queue_pairs": 4},
              {"socket": "/run/net1.sock", "mac": "02:00:00:00:00:0b"}]}
            """, "vm.json", "/srv/vm1").ToMachineConfig(f => f);
        Assert.Equal(2, config.Nics.Count);
        Assert.Equal("/srv/vm1/net0.sock", config.Nics[0].Socket);
        Assert.Equal([2, 0, 0, 0, 0, 0x0a], config.Nics[0].Device.Mac);
        Assert.Equal((9000, 4), (config.Nics[0].Device.Mtu, config.Nics[0].Device.QueuePairs));
        Assert.Equal((1500, 1), (config.Nics[1].Device.Mtu, config.Nics[1].Device.QueuePairs));
    }

    [Fact]
    public void Disks_come_in_order_with_paths_relative_to_the_file_and_ids_from_their_names()
    {
        MachineConfig config = VmSpec.Parse("""
            {"kernel": "/k", "disks": [
              {"path": "root.img"},
              {"path": "/srv/data.raw", "id": "vol-7", "read_only": true, "queues": 2}]}
            """, "vm.json", "/srv/vm1").ToMachineConfig(f => f);
        Assert.Equal([new DiskConfig("/srv/vm1/root.img", "root", false, 1), new DiskConfig("/srv/data.raw", "vol-7", true, 2)], config.Disks);
    }

    [Fact]
    public void A_disk_may_be_a_pool_volume_of_the_named_vm_with_the_volume_name_as_default_id()
    {
        MachineConfig config = VmSpec.Parse("""
            {"kernel": "/k", "name": "vm-7", "disks": [{"pool": "pools/a", "volume": "root"}]}
            """, "vm.json", "/srv").ToMachineConfig(f => f);
        Assert.Equal("vm-7", config.Name);
        Assert.Equal(new DiskConfig(null, "root", false, 1) { Pool = new PoolVolumeName("/srv/pools/a", "root") }, config.Disks[0]);
        Assert.Equal(("volume", "root in pool /srv/pools/a"), config.Disks[0].Source);
    }

    [Fact]
    public void A_pool_volume_needs_the_vms_name_which_its_attachment_names()
    {
        VmSpec spec = VmSpec.Parse("""{"kernel": "/k", "disks": [{"pool": "/p", "volume": "v"}]}""", "vm.json", "/");
        VmSpecException e = Assert.Throws<VmSpecException>(() => spec.ToMachineConfig(f => $"vm.json: {f}"));
        Assert.StartsWith("vm.json: name: missing; a VM with a pool volume needs its name", e.Message);
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
    [InlineData("""{"kernel": "/k", "nics": {}}""", "vm.json: nics: must be a list of NICs")]
    [InlineData("""{"kernel": "/k", "nics": [{"mac": "02:00:00:00:00:01"}]}""", "vm.json: nics[0].socket: missing")]
    [InlineData("""{"kernel": "/k", "nics": [{"socket": "n.sock"}]}""", "vm.json: nics[0].mac: missing")]
    [InlineData("""{"kernel": "/k", "nics": [{"socket": "n.sock", "mac": "02:00:00:00:01"}]}""", "vm.json: nics[0].mac: '02:00:00:00:01' is not a MAC address")]
    [InlineData("""{"kernel": "/k", "nics": [{"socket": "n.sock", "mac": "03:00:00:00:00:01"}]}""", "vm.json: nics[0].mac: 03:00:00:00:00:01 is a multicast address")]
    [InlineData("""{"kernel": "/k", "nics": [{"socket": "n.sock", "mac": "02:00:00:00:00:01", "mtu": 40}]}""", "vm.json: nics[0].mtu: 40 is not in 68..65535")]
    [InlineData("""{"kernel": "/k", "nics": [{"socket": "n.sock", "mac": "02:00:00:00:00:01", "queue_pairs": 17}]}""", "vm.json: nics[0].queue_pairs: 17 must be from 1 to 16")]
    [InlineData("""{"kernel": "/k", "nics": [{"socket": "n.sock", "mac": "02:00:00:00:00:01", "vlan": 3}]}""", "vm.json: nics[0].vlan: unknown field")]
    [InlineData("""{"kernel": "/k", "nics": [{"socket": "a.sock", "mac": "02:00:00:00:00:01"}, {"socket": "b.sock", "mac": "02:00:00:00:00:01"}]}""", "vm.json: nics[1].mac: is already another NIC's MAC")]
    [InlineData("""{"kernel": "/k", "nics": [{"socket": "a.sock", "mac": "02:00:00:00:00:01"}, {"socket": "./a.sock", "mac": "02:00:00:00:00:02"}]}""", "vm.json: nics[1].socket: /a.sock is already another NIC's socket")]
    [InlineData("""{"kernel": "/k", "disks": {}}""", "vm.json: disks: must be a list of disks")]
    [InlineData("""{"kernel": "/k", "disks": [{"id": "a"}]}""", "vm.json: disks[0].path: missing")]
    [InlineData("""{"kernel": "/k", "disks": [{"path": "a.img", "id": "an-id-longer-than-twenty"}]}""", "vm.json: disks[0].id: 'an-id-longer-than-twenty' must be 1..20 bytes")]
    [InlineData("""{"kernel": "/k", "disks": [{"path": "a.img", "queues": 0}]}""", "vm.json: disks[0].queues: 0 must be from 1 to 16")]
    [InlineData("""{"kernel": "/k", "disks": [{"path": "a.img", "read_only": 1}]}""", "vm.json: disks[0].read_only: must be true or false")]
    [InlineData("""{"kernel": "/k", "disks": [{"path": "a.img", "cache": "none"}]}""", "vm.json: disks[0].cache: unknown field")]
    [InlineData("""{"kernel": "/k", "disks": [{"path": "a.img"}, {"path": "./a.img", "id": "b"}]}""", "vm.json: disks[1].path: /a.img is already another disk's volume")]
    [InlineData("""{"kernel": "/k", "disks": [{"path": "a.img"}, {"path": "b/a.img"}]}""", "vm.json: disks[1].id: 'a' is already another disk's id")]
    [InlineData("""{"kernel": "/k", "disks": [{"path": "a.img", "pool": "/p", "volume": "v"}]}""", "vm.json: disks[0].pool: a disk is one of")]
    [InlineData("""{"kernel": "/k", "disks": [{"pool": "/p"}]}""", "vm.json: disks[0].volume: missing; a pool volume names its pool")]
    [InlineData("""{"kernel": "/k", "name": "vm 1"}""", "vm.json: name: 'vm 1' must be 1 to 32 letters, digits")]
    // An export named in a spec would be the VM's for the naming: it is attached only as a pool volume.
    [InlineData("""{"kernel": "/k", "disks": [{"nbd": "nbd://h/e"}]}""", "vm.json: disks[0].nbd: an NBD export is attached as a pool volume: `vmm volume create --pool P --name N --nbd URI`")]
    public void Parse_errors_name_the_field(string json, string expected)
    {
        VmSpecException e = Assert.Throws<VmSpecException>(() => VmSpec.Parse(json, "vm.json", "/"));
        Assert.StartsWith(expected, e.Message);
    }
}
