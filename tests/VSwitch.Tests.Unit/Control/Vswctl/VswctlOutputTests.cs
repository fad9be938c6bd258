// What vswctl prints: `-o table` aligned columns under a header for a list, "key: value" lines for
// one resource (a show, a create's answer, the capacity), nothing for a delete; `-o json` the
// API's JSON (snake_case, nulls left out), which reads back into the API's records.
using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Common.Cli;
using VSwitch.Control.Api;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Vswctl;

public sealed class VswctlOutputTests
{
    [Fact]
    public async Task A_list_prints_a_header_and_a_row_each_in_aligned_columns()
    {
        (int exit, string stdout, _) = await new VswctlRun().RunAsync("tenant", "list");

        Assert.Equal(ExitStatus.Ok, exit);
        Assert.Equal("""
            NAME             VNI
            acme             100
            globex-research  16777215

            """, stdout);
    }

    [Fact]
    public async Task A_field_without_a_value_prints_a_dash_so_the_columns_stay()
    {
        (_, string volumes, _) = await new VswctlRun().RunAsync("volume", "list");
        (_, string vms, _) = await new VswctlRun().RunAsync("vm", "list");

        Assert.Equal("""
            NAME   SIZE MIB  VM
            data   1024      web
            spare  20480     -

            """, volumes);
        Assert.Equal("""
            NAME  TENANT           VCPUS  MEMORY MIB  POWER    NICS                                                                                                    VOLUMES
            web   acme             2      512         running  mac=02:00:00:00:00:01,ip=10.0.0.5,ip=10.0.0.6,prefix=24 mac=02:00:00:00:00:02,ip=192.168.7.2,prefix=30  data
            db    globex-research  8      16384       running  -                                                                                                       -

            """, vms);
    }

    [Fact]
    public async Task An_empty_list_prints_its_header()
    {
        var run = new VswctlRun();
        run.Agent.Answers[Routes.Hosts] = new List<RemoteHost>();

        (int exit, string stdout, _) = await run.RunAsync("host", "list");

        Assert.Equal(ExitStatus.Ok, exit);
        Assert.Equal("NAME  VTEP  TUNNEL\n", stdout);
    }

    [Fact]
    public async Task A_show_prints_every_field_a_line_nics_as_nic_takes_them()
    {
        (int exit, string stdout, _) = await new VswctlRun().RunAsync("vm", "show", "web");

        Assert.Equal(ExitStatus.Ok, exit);
        Assert.Equal("""
            name:             web
            tenant:           acme
            vcpus:            2
            memory_mib:       512
            power:            running
            cpu_weight:       100
            cpu_max_percent:  150
            kernel:           /boot/vmlinuz
            initramfs:        /boot/initrd.img
            cmdline:          quiet loglevel=3
            nics:             mac=02:00:00:00:00:01,ip=10.0.0.5,ip=10.0.0.6,prefix=24 mac=02:00:00:00:00:02,ip=192.168.7.2,prefix=30
            volumes:          data

            """, stdout);
    }

    [Fact]
    public async Task Remote_vms_list_a_row_each_and_show_a_field_a_line_addresses_comma_separated()
    {
        (int listExit, string list, _) = await new VswctlRun().RunAsync("remote-vm", "list");
        (int showExit, string show, _) = await new VswctlRun().RunAsync("remote-vm", "show", "cache");

        Assert.Equal((ExitStatus.Ok, ExitStatus.Ok), (listExit, showExit));
        Assert.Equal("""
            NAME   TENANT           HOST   MAC                IPV4
            cache  acme             host2  02:00:00:00:00:0c  10.0.0.12,10.0.0.13
            probe  globex-research  host2  02:00:00:00:00:0d  -

            """, list);
        Assert.Equal("""
            name:    cache
            tenant:  acme
            host:    host2
            mac:     02:00:00:00:00:0c
            ipv4:    10.0.0.12,10.0.0.13

            """, show);
    }

    [Fact]
    public async Task Capacity_prints_a_field_a_line()
    {
        (int exit, string stdout, _) = await new VswctlRun().RunAsync("capacity");

        Assert.Equal(ExitStatus.Ok, exit);
        Assert.Equal("""
            cpus:             16
            memory_mib:       65536
            vcpu_overcommit:  2.5
            vcpus_used:       10
            memory_mib_used:  16896

            """, stdout);
    }

    [Fact]
    public async Task A_create_prints_the_resource_as_stored_and_a_delete_prints_nothing()
    {
        (int createExit, string created, _) = await new VswctlRun().RunAsync("host", "create", "host9", "--vtep", "198.51.100.9");
        (int deleteExit, string deleted, string deleteErr) = await new VswctlRun().RunAsync("host", "delete", "host9");

        Assert.Equal(ExitStatus.Ok, createExit);
        // The tunnel was not given: what prints is the default the stored resource carries.
        Assert.Equal("""
            name:    host9
            vtep:    198.51.100.9
            tunnel:  vxlan

            """, created);
        Assert.Equal((ExitStatus.Ok, "", ""), (deleteExit, deleted, deleteErr));
    }

    [Fact]
    public async Task Json_output_is_the_APIs_json_and_reads_back_into_its_records()
    {
        (int listExit, string list, _) = await new VswctlRun().RunAsync("-o", "json", "vm", "list");
        (int showExit, string show, _) = await new VswctlRun().RunAsync("tenant", "show", "acme", "-o", "json");
        (int capacityExit, string capacity, _) = await new VswctlRun().RunAsync("capacity", "-o", "json");

        Assert.Equal((ExitStatus.Ok, ExitStatus.Ok, ExitStatus.Ok), (listExit, showExit, capacityExit));
        JsonArray vms = JsonNode.Parse(list)!.AsArray();
        Assert.Equal(["web", "db"], vms.Select(v => (string)v!["name"]!));
        Assert.Equal(512, (int)vms[0]!["memory_mib"]!);
        Assert.Equal("10.0.0.6", (string)vms[0]!["nics"]![0]!["ipv4"]![1]!);
        // Nulls are left out: db has no initramfs, cmdline, NICs, volumes or CPU cap.
        Assert.Equal(["name", "tenant", "vcpus", "memory_mib", "kernel", "cpu_weight", "power"], vms[1]!.AsObject().Select(p => p.Key));
        Assert.Equal("""
            {
              "name": "acme",
              "vni": 100
            }

            """, show);
        Assert.Equal(FakeAgent.Host, JsonSerializer.Deserialize<Capacity>(capacity, AgentJson.Options));
    }

    [Fact]
    public async Task Json_output_of_a_create_is_the_stored_resource_and_of_a_delete_nothing()
    {
        (int createExit, string created, _) = await new VswctlRun().RunAsync("tenant", "create", "initech", "--vni", "42", "-o", "json");
        (int deleteExit, string deleted, _) = await new VswctlRun().RunAsync("tenant", "delete", "initech", "-o", "json");

        Assert.Equal((ExitStatus.Ok, ExitStatus.Ok), (createExit, deleteExit));
        Assert.Equal(new Tenant("initech", 42), JsonSerializer.Deserialize<Tenant>(created, AgentJson.Options));
        Assert.Equal("", deleted);
    }
}
