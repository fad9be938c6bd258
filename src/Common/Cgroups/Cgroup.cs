// cgroup v2, the unified hierarchy (Documentation/admin-guide/cgroup-v2.rst): the few operations
// VSwitch needs to give each VM's vmm process its own group with a CPU weight, a CPU cap and a set
// of CPUs. A group is a directory; its interface files are read and written as text, one write(2)
// per value, because the kernel parses each write on its own.
//   - "Processes": writing a PID to cgroup.procs moves the whole process, every thread of it.
//   - "Enabling and Disabling": cgroup.controllers lists what a group may use; a controller is
//     given to the children by writing "+name" to the parent's cgroup.subtree_control, which the
//     parent must itself have been given ("Top-down Constraint"). Only the root and leaves hold
//     processes ("No Internal Process Constraint").
//   - "CPU": cpu.weight (1..10000, default 100) shares CPU time among siblings in proportion;
//     cpu.max "QUOTA PERIOD" (or "max PERIOD") caps it to QUOTA microseconds every PERIOD.
//   - "Cpuset": cpuset.cpus restricts where the group's threads may run.
namespace VSwitch.Common.Cgroups;

/// <summary>A cgroup operation failed; the message names the group or file and why.</summary>
public sealed class CgroupException(string message) : IOException(message);

public static class Cgroup
{
    /// <summary>Where systemd mounts the unified hierarchy (cgroup2) on a cgroup-v2 host.</summary>
    public const string Mount = "/sys/fs/cgroup";

    /// <summary>Moves this process, every thread of it, into <paramref name="directory"/>.</summary>
    /// <exception cref="CgroupException">The group is missing or refuses the process (not a leaf, no permission).</exception>
    public static void Join(string directory) =>
        Write(Path.Join(directory, "cgroup.procs"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The controllers <paramref name="directory"/> may use (cgroup.controllers); empty when it is not a cgroup2 group.</summary>
    public static IReadOnlySet<string> Controllers(string directory) => Words(Path.Join(directory, "cgroup.controllers"));

    /// <summary>Gives <paramref name="controllers"/> to the children of <paramref name="directory"/>, those it does not give yet.</summary>
    /// <exception cref="CgroupException">A controller is not available there, or the write is refused.</exception>
    public static void EnableForChildren(string directory, params string[] controllers)
    {
        string file = Path.Join(directory, "cgroup.subtree_control");
        IReadOnlySet<string> enabled = Words(file);
        string missing = string.Join(' ', controllers.Where(c => !enabled.Contains(c)).Select(c => "+" + c));
        if (missing.Length > 0)
            Write(file, missing);
    }

    /// <summary>Writes <paramref name="value"/> to interface file <paramref name="file"/> of <paramref name="directory"/> unless it reads so already; true when it wrote.</summary>
    /// <exception cref="CgroupException">The file is missing or refuses the value.</exception>
    public static bool Set(string directory, string file, string value)
    {
        string path = Path.Join(directory, file);
        if (File.Exists(path) && File.ReadAllText(path).Trim() == value)
            return false;
        Write(path, value);
        return true;
    }

    /// <summary>
    /// The cgroup2 path of process <paramref name="pid"/> under <see cref="Mount"/>, from
    /// /proc/PID/cgroup's "0::/path" line; null when it has none (no unified hierarchy).
    /// </summary>
    public static string? Of(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/cgroup"))
        {
            if (line.StartsWith("0::", StringComparison.Ordinal))
                return Path.Join(Mount, line[3..]);
        }
        return null;
    }

    /// <summary>The whitespace-separated words of a file; empty when it does not exist.</summary>
    private static IReadOnlySet<string> Words(string path) =>
        File.Exists(path) ? File.ReadAllText(path).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal) : new HashSet<string>();

    /// <summary>One write(2) of the whole value, without O_CREAT or O_TRUNC: an interface file is never created.</summary>
    private static void Write(string path, string value)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            file.Write(System.Text.Encoding.ASCII.GetBytes(value));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CgroupException($"cannot write '{value}' to {path}: {e.Message}");
        }
    }
}
