// The desired state's SQLite file (State/AgentStore.cs): a change is all or nothing, what was
// stored is there after the file is reopened, and a file it cannot use is refused by name. A
// kill -9 of the real process is AgentProcessTests' (integration).
using System.Net;
using Microsoft.Data.Sqlite;
using VSwitch.Control.Agent.State;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using Xunit;
using static VSwitch.Tests.Unit.Control.Agent.AgentFixture;

namespace VSwitch.Tests.Unit.Control.Agent;

public sealed class AgentStoreTests : IDisposable
{
    private readonly AgentFixture _fixture = new();

    private string StatePath => Path.Combine(_fixture.Folder, "state", "agent.db");

    /// <summary>A store holding AgentFixture.Seeded()'s resources.</summary>
    private AgentStore SeededStore()
    {
        AgentStore store = AgentStore.Open(StatePath);
        DesiredState seed = Seeded();
        foreach (Tenant tenant in seed.Tenants)
            store.Create(Kinds.Tenant, tenant, Host);
        foreach (Volume volume in seed.Volumes)
            store.Create(Kinds.Volume, volume, Host);
        foreach (RemoteHost host in seed.Hosts)
            store.Create(Kinds.Host, host, Host);
        return store;
    }

    [Fact]
    public void Everything_stored_is_there_after_the_file_is_reopened()
    {
        Vm stored;
        using (AgentStore store = SeededStore())
        {
            stored = store.Create(Kinds.Vm, _fixture.Vm(volumes: ["disk-a"]), Host);
            store.Create(Kinds.RemoteVm, RemoteVm(), Host);
        }

        using (AgentStore reopened = AgentStore.Open(StatePath))
        {
            DesiredState state = reopened.Read();
            Assert.Equal(Seeded().Tenants, state.Tenants);
            Assert.Equal(Seeded().Hosts, state.Hosts);
            Vm vm = Assert.Single(state.Vms);
            Assert.Equal(stored with { Nics = null, Volumes = null }, vm with { Nics = null, Volumes = null });
            Assert.Equal(stored.Nics![0].Ipv4, vm.Nics![0].Ipv4);
            Assert.Equal(["disk-a"], vm.Volumes!);
            Assert.Equal([new Volume("disk-a", 1024, "web-1"), new Volume("disk-b", 2048)], state.Volumes);
            Assert.Equal("web-1", reopened.Show(Kinds.Vm, "web-1").Name);
            Assert.Equal(["disk-a", "disk-b"], reopened.List(Kinds.Volume).Select(v => v.Name));
            RemoteVm remote = Assert.Single(state.RemoteVms);
            Assert.Equal(RemoteVm() with { Ipv4 = null }, remote with { Ipv4 = null });
            Assert.Equal(RemoteVm().Ipv4, remote.Ipv4);
        }
    }

    [Fact]
    public void A_refused_vm_create_leaves_no_vm_and_its_volumes_free()
    {
        using AgentStore store = SeededStore();
        store.Create(Kinds.Vm, _fixture.Vm(volumes: ["disk-b"]), Host);

        // disk-a is free, disk-b is web-1's: the create is refused at its second volume.
        Vm refused = _fixture.Vm("web-2", mac: "02:00:00:00:00:02", ip: "10.0.0.2", volumes: ["disk-a", "disk-b"]);
        Refused(HttpStatusCode.Conflict, "volumes[1]", () => store.Create(Kinds.Vm, refused, Host));

        using AgentStore reopened = AgentStore.Open(StatePath);
        Assert.Equal(["web-1"], reopened.List(Kinds.Vm).Select(vm => vm.Name));
        Assert.Null(reopened.Show(Kinds.Volume, "disk-a").Vm);
    }

    [Fact]
    public void A_change_that_fails_while_writing_writes_nothing()
    {
        using AgentStore store = SeededStore();
        // A rule whose state after is written in order (tenants, VMs, volumes, hosts) until the
        // hosts' row, which SQLite refuses (a NULL name): the VM and its attached volume were
        // written in the transaction by then, and must be gone with it.
        Kind<Vm> failing = Kinds.Vm with
        {
            Create = (request, state, host) =>
            {
                (DesiredState after, Vm stored) = VmRules.Create(request, state, host);
                return (after with { Hosts = [.. after.Hosts, new RemoteHost(null!, "192.0.2.77")] }, stored);
            },
        };

        Assert.ThrowsAny<Exception>(() => store.Create(failing, _fixture.Vm(volumes: ["disk-a"]), Host));

        Assert.Empty(store.List(Kinds.Vm));
        Assert.Null(store.Show(Kinds.Volume, "disk-a").Vm);
        Assert.Equal(["east"], store.List(Kinds.Host).Select(h => h.Name));
        // The store still takes changes afterwards: the failed transaction was rolled back, not left open.
        Assert.Equal("web-1", store.Create(Kinds.Vm, _fixture.Vm(volumes: ["disk-a"]), Host).Name);
    }

    [Fact]
    public void Deletes_are_written_and_a_vm_delete_frees_its_volumes()
    {
        using (AgentStore store = SeededStore())
        {
            store.Create(Kinds.Vm, _fixture.Vm(volumes: ["disk-a", "disk-b"]), Host);
            store.Delete(Kinds.Vm, "web-1");
            store.Delete(Kinds.Volume, "disk-b");
            store.Delete(Kinds.Host, "east");
            Refused(HttpStatusCode.NotFound, "name", () => store.Delete(Kinds.Tenant, "green"));
        }
        using AgentStore reopened = AgentStore.Open(StatePath);
        DesiredState state = reopened.Read();
        Assert.Empty(state.Vms);
        Assert.Empty(state.Hosts);
        Assert.Equal([new Volume("disk-a", 1024)], state.Volumes);
    }

    [Fact]
    public void The_file_is_in_wal_mode_with_its_schema_version()
    {
        using (SeededStore())
        {
        }
        using var connection = new SqliteConnection($"Data Source={StatePath};Pooling=False");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", command.ExecuteScalar());
        command.CommandText = "PRAGMA user_version";
        Assert.Equal((long)AgentStore.SchemaVersion, command.ExecuteScalar());
        command.CommandText = "SELECT resource FROM tenants WHERE name = 'blue'";
        Assert.Contains("\"vni\": 100", (string)command.ExecuteScalar()!);
    }

    /// <summary>
    /// A file as the first agent (schema 1: no remote VMs) left it, with a tenant and a remote
    /// host in it: this agent adds the remote VMs' table and keeps what was there.
    /// </summary>
    [Fact]
    public void A_file_of_schema_1_gains_the_remote_vms_table_and_keeps_its_state_its_vms_running()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StatePath)!);
        using (var connection = new SqliteConnection($"Data Source={StatePath};Pooling=False"))
        {
            connection.Open();
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = """
                PRAGMA journal_mode = WAL;
                CREATE TABLE tenants (name TEXT PRIMARY KEY NOT NULL, resource TEXT NOT NULL) STRICT;
                CREATE TABLE vms (name TEXT PRIMARY KEY NOT NULL, resource TEXT NOT NULL) STRICT;
                CREATE TABLE volumes (name TEXT PRIMARY KEY NOT NULL, resource TEXT NOT NULL) STRICT;
                CREATE TABLE hosts (name TEXT PRIMARY KEY NOT NULL, resource TEXT NOT NULL) STRICT;
                INSERT INTO tenants VALUES ('blue', '{"name": "blue", "vni": 100}');
                INSERT INTO hosts VALUES ('east', '{"name": "east", "vtep": "192.0.2.10", "tunnel": "vxlan"}');
                INSERT INTO vms VALUES ('web', '{"name": "web", "tenant": "blue", "vcpus": 1, "memory_mib": 256, "kernel": "/k", "cpu_weight": 100}');
                PRAGMA user_version = 1;
                """;
            command.ExecuteNonQuery();
        }

        using (AgentStore store = AgentStore.Open(StatePath))
        {
            Assert.Equal(Seeded().Tenants, store.Read().Tenants);
            Assert.Equal(Seeded().Hosts, store.Read().Hosts);
            // Written before VMs had a power state: one that exists runs.
            Assert.Equal(PowerStates.Running, Assert.Single(store.Read().Vms).Power);
            Assert.Empty(store.Read().RemoteVms);
            store.Create(Kinds.RemoteVm, RemoteVm(), Host);
        }
        using (AgentStore reopened = AgentStore.Open(StatePath))
            Assert.Equal(["db-1"], reopened.List(Kinds.RemoteVm).Select(vm => vm.Name));
        using var check = new SqliteConnection($"Data Source={StatePath};Pooling=False");
        check.Open();
        using SqliteCommand version = check.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        Assert.Equal(2L, version.ExecuteScalar());
        Assert.Equal(2, AgentStore.SchemaVersion);
    }

    [Fact]
    public void A_file_of_a_newer_schema_is_refused_naming_both_versions()
    {
        using (SeededStore())
        {
        }
        using (var connection = new SqliteConnection($"Data Source={StatePath};Pooling=False"))
        {
            connection.Open();
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = $"PRAGMA user_version = {AgentStore.SchemaVersion + 1}";
            command.ExecuteNonQuery();
        }
        StateException error = Assert.Throws<StateException>(() => AgentStore.Open(StatePath));
        Assert.Contains($"schema version {AgentStore.SchemaVersion + 1}", error.Message);
        Assert.Contains(StatePath, error.Message);
    }

    [Fact]
    public void A_file_that_is_not_sqlite_is_refused_naming_it()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StatePath)!);
        File.WriteAllText(StatePath, new string('x', 4096));
        StateException error = Assert.Throws<StateException>(() => AgentStore.Open(StatePath));
        Assert.StartsWith(StatePath, error.Message);
    }

    public void Dispose() => _fixture.Dispose();
}
