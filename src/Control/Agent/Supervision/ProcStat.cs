// The fields of /proc/PID/stat the supervisor uses (proc_pid_stat(5)). A process's start time
// (field 22, clock ticks after boot) with its pid names it for the whole boot: a pid is reused,
// the pair is not. Field 2, the command, is in parentheses and may itself hold spaces and
// parentheses (a process may name itself anything up to 15 bytes), so the fields after it are
// found after the LAST ')'.
namespace VSwitch.Control.Agent.Supervision;

public readonly record struct ProcStat(int Pid, string Command, char State, int Session, ulong StartTime)
{
    /// <summary>/proc/PID/stat of <paramref name="pid"/>, or null when there is no such process.</summary>
    public static ProcStat? TryRead(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            // Not there (FileNotFound, DirectoryNotFound), or gone between open and read (ESRCH).
            return null;
        }
        return text.Length == 0 ? null : Parse(text);
    }

    /// <exception cref="FormatException">The text is not a /proc/PID/stat line.</exception>
    public static ProcStat Parse(string line)
    {
        int open = line.IndexOf('(');
        int close = line.LastIndexOf(')');
        if (open < 1 || close < open || close + 2 > line.Length)
            throw new FormatException($"not a /proc/PID/stat line (no '(command)'): {Shorten(line)}");
        // Fields 3.. after "PID (COMMAND) ": rest[0] is field 3.
        string[] rest = line[(close + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (rest.Length < 20
            || !int.TryParse(line.AsSpan(0, open).Trim(), out int pid)
            || rest[0].Length != 1
            || !int.TryParse(rest[6 - 3], out int session)
            || !ulong.TryParse(rest[22 - 3], out ulong startTime))
            throw new FormatException($"not a /proc/PID/stat line (fields 1, 3, 6 or 22 missing or not numbers): {Shorten(line)}");
        return new ProcStat(pid, line[(open + 1)..close], rest[0][0], session, startTime);
    }

    private static string Shorten(string line) => line.Length <= 80 ? line.TrimEnd() : line[..80] + "...";
}
