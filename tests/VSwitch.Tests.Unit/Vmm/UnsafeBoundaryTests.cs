// Holds src/Vmm to its rule: unsafe code only in Kvm/Interop/, where every block carries a
// SAFETY comment. The compiler allows unsafe everywhere (Directory.Build.props), so this test is
// what keeps the boundary small.
using System.Text.RegularExpressions;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm;

public partial class UnsafeBoundaryTests
{
    [GeneratedRegex(@"\bunsafe\b")]
    private static partial Regex UnsafeKeyword();

    private static IEnumerable<(string File, int Line, string Text)> CodeLines(string folder) =>
        Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .SelectMany(f => File.ReadLines(f).Select((text, i) => (f, i + 1, text)))
            // Comments may talk about unsafe code; only code counts.
            .Select(l => (l.f, l.Item2, l.text.Split("//")[0]));

    [Fact]
    public void Unsafe_code_in_the_vmm_lives_only_in_Kvm_Interop()
    {
        string vmm = Repository.PathOf("src", "Vmm");
        string boundary = Path.Combine(vmm, "Kvm", "Interop") + Path.DirectorySeparatorChar;
        var offenders = CodeLines(vmm)
            .Where(l => !l.File.StartsWith(boundary, StringComparison.Ordinal) && UnsafeKeyword().IsMatch(l.Text))
            .Select(l => $"{Path.GetRelativePath(vmm, l.File)}:{l.Line}")
            .ToList();
        Assert.True(offenders.Count == 0, "unsafe outside src/Vmm/Kvm/Interop: " + string.Join(", ", offenders));
    }

    [Fact]
    public void Every_unsafe_block_in_the_boundary_states_its_invariant()
    {
        string boundary = Repository.PathOf("src", "Vmm", "Kvm", "Interop");
        foreach (string file in Directory.EnumerateFiles(boundary, "*.cs"))
        {
            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                string code = lines[i].Split("//")[0];
                // Pointer-taking statements: fixed blocks and "new Span<byte>(pointer...".
                if (!code.Contains("fixed (") && !code.Contains("new Span<byte>(("))
                    continue;
                bool documented = lines.Skip(Math.Max(0, i - 4)).Take(Math.Min(i, 4)).Any(l => l.Contains("SAFETY:"));
                Assert.True(documented, $"{Path.GetFileName(file)}:{i + 1} has no SAFETY: comment in the 4 lines above it");
            }
        }
    }
}
