// Holds both programs to one rule: unsafe code lives only in an Interop/ folder, where every
// pointer-taking statement states its invariant in a SAFETY: comment (Firecracker's rule for
// unsafe blocks). The compiler allows unsafe everywhere (Directory.Build.props), so this test is
// what keeps the boundary small.
using System.Text.RegularExpressions;
using Xunit;

namespace VSwitch.Tests.Unit;

public partial class UnsafeBoundaryTests
{
    [GeneratedRegex(@"\bunsafe\b")]
    private static partial Regex UnsafeKeyword();

    /// <summary>Statements that take or follow a pointer: stackalloc, fixed, a span over a pointer, a dereference.</summary>
    [GeneratedRegex(@"stackalloc|fixed \(|new (ReadOnly)?Span<\w+>\(\(?\w+\*?\)?\s*[\w.]*\s*[+,]|\*\((\w+\*+)\)|\*\w+ [-+]?=[^=]")]
    private static partial Regex PointerStatement();

    /// <summary>How far above a pointer statement its SAFETY: comment may be: the member's own comment block.</summary>
    private const int SafetyReach = 12;

    public static TheoryData<string, string> Programs => new()
    {
        { "Vmm", "Kvm/Interop" },
        { "Dataplane", "Interop" },
        { "Control/Agent", "Supervision/Interop" },
    };

    [Theory]
    [MemberData(nameof(Programs))]
    public void Unsafe_code_lives_only_in_the_Interop_folder(string program, string boundary)
    {
        string root = Repository.PathOf("src", program);
        var offenders = CodeFiles(root)
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => !f.StartsWith(boundary + "/", StringComparison.Ordinal))
            .Where(f => File.ReadLines(Path.Combine(root, f)).Any(line => UnsafeKeyword().IsMatch(Code(line))))
            .Order()
            .ToList();
        Assert.Empty(offenders);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Every_pointer_statement_in_the_boundary_states_its_invariant(string program, string boundary)
    {
        foreach (string file in CodeFiles(Repository.PathOf(["src", program, .. boundary.Split('/')])))
        {
            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                if (!PointerStatement().IsMatch(Code(lines[i])))
                    continue;
                bool documented = lines.Skip(Math.Max(0, i - SafetyReach)).Take(Math.Min(i, SafetyReach) + 1).Any(l => l.Contains("SAFETY:"));
                Assert.True(documented, $"{Path.GetFileName(file)}:{i + 1} has no SAFETY: comment in the {SafetyReach} lines above it: {lines[i].Trim()}");
            }
        }
    }

    [Fact]
    public void The_pointer_statement_pattern_finds_what_it_must()
    {
        Assert.Matches(PointerStatement(), "byte* info = stackalloc byte[8];");
        Assert.Matches(PointerStatement(), "fixed (byte* p = buffer)");
        Assert.Matches(PointerStatement(), "new Span<byte>(buffer + headroom, length)");
        Assert.Matches(PointerStatement(), "return *(ushort*)((byte*)m + s_dataLen);");
        Assert.Matches(PointerStatement(), "*dataOff -= (ushort)length;");
        Assert.DoesNotMatch(PointerStatement(), "int x = a * (b + c);");
        Assert.DoesNotMatch(PointerStatement(), "Span<byte> s = stackbuffer;");
    }

    private static IEnumerable<string> CodeFiles(string folder) =>
        Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"));

    /// <summary>The line without its comment: comments may talk about unsafe code; only code counts.</summary>
    private static string Code(string line) => line.Split("//")[0];
}
