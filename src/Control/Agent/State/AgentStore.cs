// The agent's desired state on disk (docs/agent.md, "State"): one SQLite file, a table per kind
// of resource, each row a resource's name and the resource as the API's JSON. Every change runs
// in one BEGIN IMMEDIATE transaction that reads the whole state, applies a rule (Validation/Kind)
// and writes the difference, so a refused or failed change writes nothing and a VM is never
// stored without its volumes marked as attached. WAL with synchronous=FULL: a change the API has
// answered survives a kill -9 of the agent and a power loss (sqlite.org/wal.html, "Durability").
using System.Text.Json;
using Microsoft.Data.Sqlite;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.State;

/// <summary>The state file cannot be opened or was written by a newer agent.</summary>
public sealed class StateException(string message, Exception? inner = null) : Exception(message, inner);

public sealed class AgentStore : IDisposable
{
    /// <summary>
    /// The tables each schema version adds: entry i takes a file from version i to i + 1. A file
    /// is brought to <see cref="SchemaVersion"/> by the entries past its PRAGMA user_version, so an
    /// agent upgraded in place keeps the state it had, and a new file gets every table.
    /// </summary>
    private static readonly string[][] TablesAdded =
    [
        [Kinds.Tenant.Plural, Kinds.Vm.Plural, Kinds.Volume.Plural, Kinds.Host.Plural],
        [Kinds.RemoteVm.Plural],
    ];

    /// <summary>PRAGMA user_version of the schema this agent writes: a new kind of resource adds an entry to TablesAdded.</summary>
    public static int SchemaVersion => TablesAdded.Length;

    /// <summary>How long a change waits for another process's write lock (the sqlite3 shell, a backup) before it fails.</summary>
    private const int BusyTimeoutMs = 5000;

    private readonly SqliteConnection _connection;
    // One connection, used by one request at a time: the agent's requests are few, and SQLite
    // serialises writers anyway.
    private readonly Lock _lock = new();

    public string Path { get; }

    private AgentStore(string path, SqliteConnection connection)
    {
        Path = path;
        _connection = connection;
    }

    /// <summary>Opens <paramref name="path"/>, creating the file, its directory and the schema if needed.</summary>
    /// <exception cref="StateException">The file is not an SQLite database, cannot be written, or has a newer schema.</exception>
    public static AgentStore Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            connection.Open();
            Execute(connection, $"PRAGMA busy_timeout = {BusyTimeoutMs}");
            if (Scalar(connection, "PRAGMA journal_mode = WAL") is not "wal")
                throw new StateException($"{path}: cannot switch the journal to WAL");
            Execute(connection, "PRAGMA synchronous = FULL");
            Migrate(connection, path);
            return new AgentStore(path, connection);
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            connection.Dispose();
            throw new StateException($"{path}: {e.Message}", e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void Migrate(SqliteConnection connection, string path)
    {
        using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
        long version = (long)Scalar(connection, "PRAGMA user_version", transaction)!;
        if (version > SchemaVersion)
            throw new StateException($"{path} has schema version {version}, written by a newer vswitch-agent; this one knows up to {SchemaVersion}");
        if (version == SchemaVersion)
            return;
        foreach (string table in TablesAdded.Skip((int)version).SelectMany(tables => tables))
            Execute(connection, $"CREATE TABLE {table} (name TEXT PRIMARY KEY NOT NULL, resource TEXT NOT NULL) STRICT", transaction);
        Execute(connection, $"PRAGMA user_version = {SchemaVersion}", transaction);
        transaction.Commit();
    }

    /// <summary>Every resource, as of now.</summary>
    public DesiredState Read()
    {
        lock (_lock)
        {
            using SqliteTransaction transaction = _connection.BeginTransaction(deferred: true);
            return ReadAll(transaction);
        }
    }

    /// <summary>The resources of <paramref name="kind"/>, by name.</summary>
    public IReadOnlyList<T> List<T>(Kind<T> kind) where T : class => kind.In(Read());

    /// <summary>The resource of <paramref name="kind"/> named <paramref name="name"/>; Refusal (404) if there is none.</summary>
    public T Show<T>(Kind<T> kind, string name) where T : class => kind.Find(name, Read());

    /// <summary>Checks and stores <paramref name="request"/>; returns it as stored. Refusal if a rule refuses it.</summary>
    public T Create<T>(Kind<T> kind, T? request, HostResources host) where T : class => Change(state => kind.Create(request, state, host));

    /// <summary>Replaces VM <paramref name="vm"/>'s CPU weight and cap; returns the VM as stored. Refusal if a rule refuses it.</summary>
    public Vm SetCpu(string vm, VmCpu? request) => Change(state => VmRules.SetCpu(vm, request, state));

    /// <summary>Sets VM <paramref name="vm"/>'s power state; returns the VM as stored. Refusal if a rule refuses it.</summary>
    public Vm SetPower(string vm, VmPower? request) => Change(state => VmRules.SetPower(vm, request, state));

    /// <summary>Change with a rule that also answers the resource it stored.</summary>
    private T Change<T>(Func<DesiredState, (DesiredState After, T Stored)> rule)
    {
        T stored = default!;
        Change(state =>
        {
            (DesiredState after, stored) = rule(state);
            return after;
        });
        return stored;
    }

    /// <summary>Deletes the resource of <paramref name="kind"/> named <paramref name="name"/>; Refusal if a rule refuses it.</summary>
    public void Delete<T>(Kind<T> kind, string name) where T : class => Change(state => kind.Delete(name, state));

    /// <summary>
    /// Reads the state, applies <paramref name="rule"/> and writes what it changed, in one
    /// transaction that holds the write lock from its start (BEGIN IMMEDIATE), so no other
    /// writer can change the state between the rule's checks and the write.
    /// </summary>
    private void Change(Func<DesiredState, DesiredState> rule)
    {
        lock (_lock)
        {
            using SqliteTransaction transaction = _connection.BeginTransaction(deferred: false);
            DesiredState before = ReadAll(transaction);
            DesiredState after = rule(before);
            Write(Kinds.Tenant, before, after, transaction);
            Write(Kinds.Vm, before, after, transaction);
            Write(Kinds.Volume, before, after, transaction);
            Write(Kinds.Host, before, after, transaction);
            Write(Kinds.RemoteVm, before, after, transaction);
            transaction.Commit();
        }
    }

    private DesiredState ReadAll(SqliteTransaction transaction) => new(
        ReadTable(Kinds.Tenant, transaction),
        ReadTable(Kinds.Vm, transaction),
        ReadTable(Kinds.Volume, transaction),
        ReadTable(Kinds.Host, transaction),
        ReadTable(Kinds.RemoteVm, transaction));

    private List<T> ReadTable<T>(Kind<T> kind, SqliteTransaction transaction) where T : class
    {
        using SqliteCommand command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT name, resource FROM {kind.Plural} ORDER BY name";
        using SqliteDataReader reader = command.ExecuteReader();
        var resources = new List<T>();
        while (reader.Read())
        {
            resources.Add(JsonSerializer.Deserialize<T>(reader.GetString(1), AgentJson.Options)
                ?? throw new StateException($"{Path}: {kind.Plural} row '{reader.GetString(0)}' holds null"));
        }
        return resources;
    }

    /// <summary>
    /// Writes the rows of <paramref name="kind"/> that <paramref name="after"/> adds, changes or
    /// drops. A rule passes every resource it leaves alone through as the same object, so a
    /// resource that is not the same object is new or changed.
    /// </summary>
    private void Write<T>(Kind<T> kind, DesiredState before, DesiredState after, SqliteTransaction transaction) where T : class
    {
        Dictionary<string, T> old = kind.In(before).ToDictionary(kind.NameOf);
        var kept = new HashSet<string>();
        foreach (T resource in kind.In(after))
        {
            string name = kind.NameOf(resource);
            kept.Add(name);
            if (old.TryGetValue(name, out T? previous) && ReferenceEquals(previous, resource))
                continue;
            Execute(_connection, $"INSERT OR REPLACE INTO {kind.Plural} (name, resource) VALUES ($name, $resource)", transaction,
                ("$name", name), ("$resource", JsonSerializer.Serialize(resource, AgentJson.Options)));
        }
        foreach (string name in old.Keys.Where(name => !kept.Contains(name)))
            Execute(_connection, $"DELETE FROM {kind.Plural} WHERE name = $name", transaction, ("$name", name));
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null, params (string Name, object Value)[] parameters)
    {
        using SqliteCommand command = Command(connection, sql, transaction, parameters);
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using SqliteCommand command = Command(connection, sql, transaction, []);
        return command.ExecuteScalar();
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, SqliteTransaction? transaction, (string Name, object Value)[] parameters)
    {
        SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach ((string name, object value) in parameters)
            command.Parameters.AddWithValue(name, value);
        return command;
    }

    public void Dispose()
    {
        lock (_lock)
            _connection.Dispose();
    }
}
