// What the supervisor writes down about each child it starts, so that the next agent, after a
// restart or a kill -9 of this one, adopts the process instead of starting a second one: the pid,
// the start time the kernel gave that pid (/proc/PID/stat field 22), the boot (a start time is
// counted from boot), the executable, how often it was started and the spec it was started from.
// A live process is adopted only if its pid, boot and start time match: together they name one
// process, and any other process behind that pid is a stranger, never signalled. The executable
// is recorded for people, not compared: a child may exec another program (a shell script's exec)
// or have its binary replaced on disk by an upgrade and still be the process that was started.
//
// One small JSON file per child, STATE_DIRECTORY/NAME.json, replaced with write-then-rename so a
// reader (the next agent) sees the old file or the new one, never half of one, even if the agent
// is killed mid-write. Not fsynced: the file only matters while its process lives, and a power
// loss ends both.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace VSwitch.Control.Agent.Supervision;

public sealed record ChildIdentity(string Name, int Pid, ulong StartTime, string BootId, string Executable, int StartCount, ChildSpec Spec)
{
    private const string Extension = ".json";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
    };

    /// <summary>This boot's id (proc(5), /proc/sys/kernel/random/boot_id).</summary>
    public static string CurrentBootId { get; } = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();

    public static string PathOf(string directory, string name) => Path.Combine(directory, name + Extension);

    /// <summary>Writes (replaces) this identity's file in <paramref name="directory"/>, creating the directory if needed.</summary>
    /// <exception cref="IOException">The directory cannot be written.</exception>
    public void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        string path = PathOf(directory, Name);
        string temporary = path + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(this, Json));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Removes <paramref name="name"/>'s file, if there is one.</summary>
    public static void Delete(string directory, string name) => File.Delete(PathOf(directory, name));

    /// <summary>Every identity file in <paramref name="directory"/>: the identity, or null and why it could not be read.</summary>
    public static IEnumerable<(string Name, ChildIdentity? Identity, string? Problem)> ReadAll(string directory)
    {
        if (!Directory.Exists(directory))
            yield break;
        foreach (string path in Directory.EnumerateFiles(directory, "*" + Extension).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(path);
            ChildIdentity? identity = null;
            string? problem = null;
            try
            {
                identity = JsonSerializer.Deserialize<ChildIdentity>(File.ReadAllBytes(path), Json);
                if (identity?.Name != name || identity.Spec?.Name != name)
                    (identity, problem) = (null, $"its name is not its file's ({name})");
            }
            catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
            {
                problem = e.Message;
            }
            yield return (name, identity, problem);
        }
    }
}
