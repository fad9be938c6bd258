// Holds each program's folders to layers: a folder may use another's namespace only if that one
// does not, through any chain, use it back. A cycle (Switching and Overlay each holding the
// other's tables, once) means neither can be read, tested or changed alone; this test names it.
using System.Text.RegularExpressions;
using Xunit;

namespace VSwitch.Tests.Unit;

public partial class FolderLayeringTests
{
    /// <summary>"using VSwitch.Dataplane.Tables;" for program Dataplane, "using VSwitch.Control.Agent.State;" for Control/Agent.</summary>
    private static Regex ProgramUsing(string program) =>
        new($@"^using (static )?VSwitch\.{Regex.Escape(program.Replace('/', '.'))}\.(?<folder>\w+)[.;]");

    [Theory]
    [InlineData("Dataplane")]
    [InlineData("Vmm")]
    [InlineData("Common")]
    [InlineData("Control/Agent")]
    public void No_folder_uses_a_folder_that_uses_it_back(string program)
    {
        Dictionary<string, HashSet<string>> uses = FolderUses(program);
        Assert.True(uses.Count >= 3, $"src/{program} has {uses.Count} folders: the scan found nothing");
        Assert.Null(FindCycle(uses));
    }

    [Fact]
    public void A_cycle_is_found_and_named()
    {
        var uses = new Dictionary<string, HashSet<string>>
        {
            ["Switching"] = ["Tables", "Overlay"],
            ["Overlay"] = ["Tables", "Switching"],
            ["Tables"] = [],
        };
        Assert.Equal("Overlay -> Switching -> Overlay", FindCycle(uses));
        uses["Overlay"].Remove("Switching");
        Assert.Null(FindCycle(uses));
    }

    /// <summary>Top-level folder of src/PROGRAM -> the program's top-level folders its files import.</summary>
    private static Dictionary<string, HashSet<string>> FolderUses(string program)
    {
        string root = Repository.PathOf(["src", .. program.Split('/')]);
        Regex programUsing = ProgramUsing(program);
        var uses = new Dictionary<string, HashSet<string>>();
        foreach (string file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            string[] parts = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar);
            if (parts.Length < 2 || parts[0] is "bin" or "obj")
                continue;
            HashSet<string> used = uses.TryGetValue(parts[0], out var set) ? set : uses[parts[0]] = [];
            foreach (string line in File.ReadLines(file))
            {
                Match m = programUsing.Match(line);
                if (m.Success && m.Groups["folder"].Value != parts[0])
                    used.Add(m.Groups["folder"].Value);
            }
        }
        return uses;
    }

    /// <summary>The first cycle found by depth-first search, as "A -> B -> A", or null.</summary>
    private static string? FindCycle(Dictionary<string, HashSet<string>> uses)
    {
        var done = new HashSet<string>();
        var path = new List<string>();
        string? Visit(string folder)
        {
            int at = path.IndexOf(folder);
            if (at >= 0)
                return string.Join(" -> ", path.Skip(at).Append(folder));
            if (!done.Add(folder))
                return null;
            path.Add(folder);
            foreach (string next in uses.GetValueOrDefault(folder, []).Order(StringComparer.Ordinal))
            {
                if (Visit(next) is { } cycle)
                    return cycle;
            }
            path.RemoveAt(path.Count - 1);
            return null;
        }
        foreach (string folder in uses.Keys.Order(StringComparer.Ordinal))
        {
            if (Visit(folder) is { } cycle)
                return cycle;
        }
        return null;
    }
}
