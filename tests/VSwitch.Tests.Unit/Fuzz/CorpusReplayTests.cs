// Every committed fuzz input runs through its target on every test run: the seeds of
// fuzz/corpus/<target>/ and the inputs of fuzz/crashes-fixed/<target>/ that once crashed a target
// (docs/fuzzing.md). The targets are the fuzzer's own code (fuzz/VSwitch.Fuzz.Targets), so a
// replay checks the same invariants a fuzzing run does.
using VSwitch.Fuzz.Targets;
using Xunit;

namespace VSwitch.Tests.Unit.Fuzz;

public class CorpusReplayTests
{
    private static readonly string s_fuzz = Repository.PathOf("fuzz");

    /// <summary>(folder, target, file name) of every committed input, target by target.</summary>
    public static TheoryData<string, string, string> Inputs()
    {
        var inputs = new TheoryData<string, string, string>();
        foreach (string folder in new[] { "corpus", "crashes-fixed" })
        {
            foreach (string target in FuzzTargets.All.Keys.Order())
            {
                string directory = Path.Combine(s_fuzz, folder, target);
                if (!Directory.Exists(directory))
                    continue;
                foreach (string file in Directory.GetFiles(directory).Order())
                    inputs.Add(folder, target, Path.GetFileName(file));
            }
        }
        return inputs;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Committed_input_runs_through_its_target_without_a_crash(string folder, string target, string file) =>
        FuzzTargets.All[target](File.ReadAllBytes(Path.Combine(s_fuzz, folder, target, file)));

    [Fact]
    public void Every_target_has_seeds_and_every_seed_folder_a_target()
    {
        string[] folders = [.. Directory.GetDirectories(Path.Combine(s_fuzz, "corpus")).Select(Path.GetFileName).Order()!];
        Assert.Equal(FuzzTargets.All.Keys.Order(), folders);
        Assert.All(folders, target => Assert.NotEmpty(Directory.GetFiles(Path.Combine(s_fuzz, "corpus", target))));
    }
}
